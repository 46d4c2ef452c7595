"""The changelog topics made ahead of a worker's start carry the names faust gives them, and
the worker app the replication, partitions and standbys of the settings."""

from ascolto.config import Settings
from ascolto.topics import changelog_specs
from streams.app import create_app


def test_changelogs_are_named_as_faust_names_them() -> None:
    settings = Settings.from_env({"ASCOLTO_APP_ID": "group-7"})
    app = create_app(settings)
    named_by_faust = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    assert set(changelog_specs("group-7")) == named_by_faust
    assert len(named_by_faust) == 2


def test_the_worker_app_takes_the_replication_and_standby_settings() -> None:
    env = {"ASCOLTO_REPLICATION_FACTOR": "3", "ASCOLTO_STANDBY_REPLICAS": "1"}
    conf = create_app(Settings.from_env(env | {"ASCOLTO_PARTITIONS": "24"})).conf
    assert conf.topic_replication_factor == 3
    assert conf.table_standby_replicas == 1
    assert conf.topic_partitions == 24
