"""Settings of the bulk-send baseline's worker only (``DJANGO_SETTINGS_MODULE=bench.baseline_settings``):
the product's, with one override.

Celery's Django fixup closes every database connection before and after each task unless
``CELERY_DB_REUSE_MAX`` is set, so a worker running one task per recipient opens a new MySQL
connection (connect, charset, isolation level) per recipient: about 8 % of the baseline worker's
samples under py-spy; keeping it gave 15 to 20 % more recipients/s (worker CPU per recipient
6.8 → 5.7 ms, MariaDB's 2.5 → 1.9 ms). A one-task-per-message service would keep its connections
(GOV.UK Notify's workers keep a pool), so the baseline does too. The product's worker is left as
deployed: it runs one task per provider batch of up to 3,000 records, where one connection per
task costs nothing measurable.
"""

from gm_server_notify.settings import *  # noqa: F403 - the product's settings, one override below

# Close (and reopen) the connections only every million tasks.
CELERY_DB_REUSE_MAX = 1_000_000
