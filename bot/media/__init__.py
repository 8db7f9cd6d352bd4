"""Files: reading images and clips from allowlisted hosts, re-encoding clips to fit, last
frames, and the worker threads that blocking work runs in."""
