"""The image (`make image`) against the real stack: its ingest and worker, each in a container
with a read-only root file system, pass the walking skeleton; ingest reads an API key store
made for these tests and mounted read-only, as the chart mounts its Secret, and sees a key the
image's CLI revokes without a restart; its CLI sets a pipeline up and its indexer indexes;
every process runs as the image's non-root user; and the image holds the application and its
dependencies, not the tests or the dev tools."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from ascolto.clients import kafka_options
from ascolto.config import Settings
from ascolto.search import client, kinds
from ascolto.topics import topic_specs
from bench.worker_metrics import scrape, total
from services.client import default_credential
from tests.integration.test_walking_skeleton import (
    posted,
    test_an_invalid_batch_publishes_nothing,
    test_every_valid_contact_is_searchable_with_its_fields,
    test_invalid_contacts_are_refused_at_the_door_with_the_reason,
    test_metrics_show_the_same_counts,
    test_posting_the_same_batch_again_creates_no_duplicates,
    test_undecodable_messages_go_to_the_dead_letter_topic,
)
from tests.support.container import (
    IMAGE_UID,
    MOUNTED,
    STATE_DIR,
    ContainerProc,
    build_image,
    container_proc,
    run_once,
)
from tests.support.stack import (
    ASCOLTO,
    Pipeline,
    free_port,
    isolated_names,
    make_pipeline,
    metrics_url,
    remove_topics_and_indices,
    teardown_pipeline,
    wait_ready,
)
from tests.support.waiting import wait_until

# the walking skeleton's scenario and checks, run here on the image's processes
__all__ = [
    "posted",
    "test_an_invalid_batch_publishes_nothing",
    "test_every_valid_contact_is_searchable_with_its_fields",
    "test_invalid_contacts_are_refused_at_the_door_with_the_reason",
    "test_metrics_show_the_same_counts",
    "test_posting_the_same_batch_again_creates_no_duplicates",
    "test_undecodable_messages_go_to_the_dead_letter_topic",
]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_image(tmp_path_factory.mktemp("image") / "build.log")


@pytest.fixture(scope="module")
def ingest_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A key store of these tests' own, made as an operator makes one (`ascolto keys create`
    on their machine): ingest's container mounts it, the tests' client sends its key."""
    directory = tmp_path_factory.mktemp("ingest-keys")
    store, key = directory / "ingest-keys.json", directory / "ingest.key"
    create = [ASCOLTO, "keys", "create", "--name", "image-test", "--write", str(key)]
    env = {**os.environ, "ASCOLTO_INGEST_KEYS_FILE": str(store)}
    done = subprocess.run(create, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return {"ASCOLTO_INGEST_KEYS_FILE": str(store), "ASCOLTO_INGEST_KEY_FILE": str(key)}


@pytest.fixture(scope="module", autouse=True)
def client_sends_the_test_key(ingest_keys: dict[str, str]) -> Iterator[None]:
    """The walking skeleton's checks post with the process's default credential: in this
    module, the test store's key; the environment's again after it."""
    env = pytest.MonkeyPatch()
    env.setenv("ASCOLTO_INGEST_KEY_FILE", ingest_keys["ASCOLTO_INGEST_KEY_FILE"])
    default_credential.cache_clear()
    try:
        yield
    finally:
        env.undo()
        default_credential.cache_clear()


@pytest.fixture(scope="module")
def pipeline(
    image: str,
    base_settings: Settings,
    ingest_keys: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """The walking skeleton's pipeline, with its ingest and worker run from the image."""
    tmp = tmp_path_factory.mktemp("image")
    pipe = make_pipeline(base_settings, tmp, extra_env=ingest_keys, launch=container_proc)
    try:
        yield pipe
    finally:
        teardown_pipeline(pipe)


def as_container(proc: object) -> ContainerProc:
    assert isinstance(proc, ContainerProc)
    return proc


@pytest.mark.parametrize("process", ["ingest", "worker"])
def test_each_process_runs_as_the_image_user_on_a_read_only_root(
    pipeline: Pipeline, process: str
) -> None:
    proc = as_container(getattr(pipeline, process))
    assert proc.exec("id", "-u").stdout.strip() == str(IMAGE_UID)
    # the process itself (pid 1), not only what exec starts: real, effective, saved, fs uids
    status = proc.exec("cat", "/proc/1/status").stdout.splitlines()
    uids = [line.split()[1:] for line in status if line.startswith("Uid:")]
    assert uids == [[str(IMAGE_UID)] * 4]
    refused = proc.exec("touch", "/opt/ascolto/probe", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    assert proc.exec("touch", f"{STATE_DIR}/probe", check=False).returncode == 0


def post_nothing(pipeline: Pipeline, token: str) -> int:
    """The status of an authenticated POST of no contacts: 400 once the key is accepted, 401
    when it is not; nothing is published either way."""
    request = urllib.request.Request(
        f"{pipeline.ingest_url}/v1/contacts",
        data=b"[]",
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_ingest_reads_the_mounted_store_and_sees_a_key_revoked_without_a_restart(
    pipeline: Pipeline, ingest_keys: dict[str, str]
) -> None:
    """The image's CLI makes a second key in the store the running ingest mounts, then
    revokes it: ingest accepts it, then refuses it, and keeps accepting the first."""
    store = Path(ingest_keys["ASCOLTO_INGEST_KEYS_FILE"])
    inside = MOUNTED["ASCOLTO_INGEST_KEYS_FILE"]
    env = {**os.environ, "ASCOLTO_INGEST_KEYS_FILE": str(store)}
    made = run_once("keys", "create", "--name", "second", "--write", f"{inside}/second.key",
                    env=env, writable=True)  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = (store.parent / "second.key").read_text().strip()
    key_id = token.split("_")[1]
    first = Path(ingest_keys["ASCOLTO_INGEST_KEY_FILE"]).read_text().strip()
    wait_until(lambda: post_nothing(pipeline, token) == 400, 10, "ingest to accept a new key")
    revoke = run_once("keys", "revoke", key_id, env=env, writable=True)
    assert revoke.returncode == 0, revoke.stderr
    wait_until(lambda: post_nothing(pipeline, token) == 401, 10, "ingest to refuse the key")
    assert post_nothing(pipeline, first) == 400
    assert post_nothing(pipeline, "asc_nokey00000_nothing") == 401
    assert token not in pipeline.ingest.log.read_text()


def test_the_worker_keeps_its_state_in_the_writable_state_dir(pipeline: Pipeline) -> None:
    listing = as_container(pipeline.worker).exec("find", STATE_DIR, "-mindepth", "2").stdout
    assert any(path.startswith(f"{STATE_DIR}/worker-data/") for path in listing.split()), listing


def test_the_cli_from_the_image_creates_the_topics_and_indices(
    image: str, base_settings: Settings
) -> None:
    env = {**os.environ, **isolated_names()}
    settings = Settings.from_env(env)
    es = client(settings.elastic)
    try:
        done = run_once("setup", env=env)
        assert done.returncode == 0, done.stderr
        admin = KafkaAdminClient(**kafka_options(settings.kafka))
        try:
            topics = set(admin.list_topics())
        finally:
            admin.close()
        assert set(topic_specs(settings.kafka)) <= topics
        for name in topic_specs(settings.kafka):
            assert name in done.stdout
        for alias in map(settings.elastic.alias, kinds()):
            assert es.indices.exists_alias(name=alias)
    finally:
        remove_topics_and_indices(settings, es)


def test_the_indexer_from_the_image_indexes_the_pipeline(pipeline: Pipeline, posted) -> None:
    """An indexer container in a consumer group of its own reads the enriched contacts from
    the start and writes every one (again: the same `_id`s) to the pipeline's indices."""
    _, result = posted
    env = {
        **pipeline.env,
        "ASCOLTO_APP_ID": f"{pipeline.settings.worker.app_id}x",
        "ASCOLTO_INDEXER_WEB_PORT": str(free_port()),
    }
    indexer = container_proc("indexer", "indexer", env, pipeline.worker.log.parent)
    pipeline.extra_workers.append(indexer)
    indexer.start()
    wait_ready(indexer)
    contacts = pipeline.settings.elastic.contacts
    unique = len(set(result.accepted_ids))

    def indexed() -> float:
        metrics = scrape(metrics_url(indexer))
        return total(metrics, "ascolto_documents_indexed_total", index=contacts)

    wait_until(lambda: indexed() >= unique, 90, f"the indexer to index {unique} contacts")
    assert indexer.exec("id", "-u").stdout.strip() == str(IMAGE_UID)


def test_the_image_holds_the_application_and_nothing_else(image: str) -> None:
    probe = (
        "import importlib.util as u, json, os;"
        "names = ['ascolto', 'services', 'streams', 'schemas', 'faust', 'aiokafka', 'lingua',"
        " 'tests', 'bench', 'pytest', 'hypothesis', 'mypy', 'ruff', 'pip', 'setuptools'];"
        "print(json.dumps({'found': {n: u.find_spec(n) is not None for n in names},"
        " 'paths': {p: os.path.exists(p) for p in ['/src', '/.git', '/opt/ascolto/.git']},"
        " 'uid': os.getuid()}))"
    )
    done = run_once("-c", probe, entrypoint="python3")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    found = seen["found"]
    assert all(found[n] for n in ("ascolto", "services", "streams", "schemas", "faust")), found
    assert all(found[n] for n in ("aiokafka", "lingua")), found
    dev = ("tests", "bench", "pytest", "hypothesis", "mypy", "ruff", "pip", "setuptools")
    assert not any(found[n] for n in dev), found
    assert not any(seen["paths"].values()), seen["paths"]
    assert seen["uid"] == IMAGE_UID
