"""The execution layer: registered functions run on isolated copies of their inputs, their results
classified (MUTATION / CREATION / DETACHMENT) and one ``FunctionExecution`` recorded per call.

May import the core and store layers; never lineage or notebook.
"""

from .model import ExecutionConfig, ExecutionSemantics, FunctionExecution, RegistryConfig

__all__ = ["ExecutionConfig", "ExecutionSemantics", "FunctionExecution", "RegistryConfig"]
