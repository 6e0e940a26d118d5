"""The notebook layer: recorded cells (``cells``: what a cell reads and binds; ``recorder``: recording a cell
that runs as a plain cell, no IPython import), the IPython extension (``magics``, a thin adapter),
rich displays, the explorer widget (a view of the lineage layer's payload) and the ``ecs-notebook`` command.

May import every other layer; nothing imports it but ``ecs_notebook/__init__.py`` (lazily) and tests.
"""
