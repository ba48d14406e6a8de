"""The dashboard's figures, each from the repository of its area and scoped by the viewer."""
