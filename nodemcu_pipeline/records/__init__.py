"""Records a stage leaves in the build directory: stage records and the build → flash handoff."""
