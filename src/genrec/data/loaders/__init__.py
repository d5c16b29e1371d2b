"""Dataset loaders: each turns files into an `InteractionData`, with errors that name the file and line."""
