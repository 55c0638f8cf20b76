"""The napari face: the dock widget, the Qt-free fusion jobs, layer geometry, sample data.

The only part of the package (with the CLI) that may import napari, magicgui or Qt.
"""
