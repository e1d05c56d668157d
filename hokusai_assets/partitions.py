"""One partition per contribution.

Imported by assets, checks and sensors (never the other way round), so there is
a single definition and no import cycle. A partition key names its source object
and the version (ETag) that was dropped, so it resolves to its file with no run
config or tags: ``{token_id}/{wallet}/{file}@{etag12}`` (see ``hokusai.drops.keys``).
"""

from dagster import DynamicPartitionsDefinition

CONTRIBUTIONS_PARTITIONS_NAME = "contributions"

contributions = DynamicPartitionsDefinition(name=CONTRIBUTIONS_PARTITIONS_NAME)
