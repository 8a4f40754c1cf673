"""What a firmware image is, as pure facts: layouts, the image format, partitions, banner, LFS and SPIFFS formats."""
