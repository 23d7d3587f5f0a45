"""A mutation run over the money rules (`make mutation`): how well the tests notice a changed rule."""
