"""The runtime wrapper: Spark sessions, snapshots, model functions and how they are applied."""
