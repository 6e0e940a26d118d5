"""The core layer: entities and their immutable version records, change detection, the registry (a cache of
the store), addresses, the classes defined in this process, notebook variables, value fingerprints and codecs.

Imports nothing of the other layers (store, execution, lineage, notebook): the store layer registers the
registry's default store with it (``registry.set_default_store``). Depends on pydantic, numpy/pyarrow/xxhash.
"""
