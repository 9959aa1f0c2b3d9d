"""The press and policy charts: figures built from layers.public_stats, and their server-rendered exports."""
