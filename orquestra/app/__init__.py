"""The application shell: the `orquestra` command, the commander API, doctor and models.

The top of the import order (runtime <- tools <- nodes <- graph <- app): the only code
that imports the workflow (`graph`), the nodes and the tools together.
"""
