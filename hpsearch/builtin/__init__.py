"""The objective that ships: the book's `MultiLayerNet` (`nn/`), its trainer,
`TrainConfig`, the exported model.
"""
