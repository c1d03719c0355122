import os

# Ryuk (testcontainers' reaper) is an image from a registry, which offline labs cannot pull;
# each test removes its own containers through context managers instead.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
