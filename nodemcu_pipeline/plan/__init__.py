"""Flash plans: the model (regions, validation, merge) and its file on disk."""
