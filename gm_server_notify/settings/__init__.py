"""Settings for gm_server_notify, one module per concern (docs/configuration.md has a section
for each, with every environment variable it reads, its default and its meaning).

Every setting comes from an environment variable, read through ``environment.py``'s readers. With
nothing set the service runs on embedded defaults: SQLite, kombu's filesystem broker and a file
cache, all under ``var/``. Every provider's base URL defaults to the local simulator, so no
default ever reaches a real vendor.

The modules are assembled in this order; a module that needs another's setting imports it from
that module by name.
"""

# ruff: noqa: F403, I001 - star imports, in the order above rather than sorted

from gm_server_notify.settings.environment import BASE_DIR as BASE_DIR, VAR_DIR as VAR_DIR
from gm_server_notify.settings.core import *  # Django itself, production or not
from gm_server_notify.settings.security import *  # HTTPS in production
from gm_server_notify.settings.database import *
from gm_server_notify.settings.cache import *  # Redis or files
from gm_server_notify.settings.api import *  # REST framework, OpenAPI
from gm_server_notify.settings.auth import *  # clients, callback secrets, login lockout
from gm_server_notify.settings.providers import *  # which provider for what, failover, each provider
from gm_server_notify.settings.sending import *  # the pipeline's retries, sweeps and limits
from gm_server_notify.settings.celery import *  # broker, queues, beat, heartbeat
from gm_server_notify.settings.webhooks import *  # tenant webhooks
from gm_server_notify.settings.marketing import *  # sending hours, opt-outs
from gm_server_notify.settings.guard import *  # the tenant guard's pumping rule
from gm_server_notify.settings.privacy import *  # retention, erasure, the opt-out hash key
from gm_server_notify.settings.console import *  # the traffic rollup, prices
from gm_server_notify.settings.alerts import *  # operators' alerts: thresholds, email, webhook
from gm_server_notify.settings.logging import *

# ``from gm_server_notify.settings import *`` (tests/settings.py, the benchmarks) takes the
# settings only, not the helpers and modules the star imports above bring along.
__all__ = [name for name in dir() if name.isupper()]
