"""The changelog topics made ahead of a worker's start carry the names faust gives them."""

from ascolto.config import Settings
from ascolto.topics import changelog_specs
from streams.app import create_app


def test_changelogs_are_named_as_faust_names_them() -> None:
    settings = Settings.from_env({"ASCOLTO_APP_ID": "group-7"})
    app = create_app(settings)
    named_by_faust = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    assert set(changelog_specs("group-7")) == named_by_faust
    assert len(named_by_faust) == 2
