"""The search space: dimensions (`Uniform`, `LogUniform`, `IntUniform`, `Categorical`) and
`SearchSpace`."""
