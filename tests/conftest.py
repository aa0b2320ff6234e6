import os

import numpy as np
import pytest

# Every Ray instance a test starts stays on loopback.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
