"""The platform's database as a Dagster resource: the tokens' lineage chains."""

from dagster import ConfigurableResource

from hokusai.chain.ledger import Chain


class LedgerResource(ConfigurableResource):
    """SQLite under the state folder on the embedded default, PostgreSQL in production."""

    url: str

    def get_chain(self) -> Chain:
        return Chain(self.url)
