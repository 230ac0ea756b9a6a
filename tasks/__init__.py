"""The pipeline's logic as small typed functions, each step wrapped as a Prefect task."""
