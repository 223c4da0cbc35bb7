# The real-cluster fixture, shared by the integration tests.
from tests.integration.test_qcluster import cluster  # noqa: F401
