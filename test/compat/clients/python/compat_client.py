#!/usr/bin/env python3
"""kafka-python 2.0.2 (Debian python3-kafka) driven by the Millrace compatibility suite.

Run with Debian's interpreter:  /usr/bin/python3 compat_client.py <bootstrap> <command> [--option value ...]
The client probes the broker (ApiVersions v0, Metadata v0), guesses a Kafka release from the versions it
sees, and then uses fixed request versions for that release.

Commands (each prints ONE JSON document on the last stdout line; logs go to stderr):
  metadata [--topics a,b]                        KafkaAdminClient describe_cluster/list_topics/describe_topics
  create --topic t --partitions n [--config k=v]...   KafkaAdminClient create_topics (replication factor 1)
  produce --topic t [--acks all|1|0] [--codec none|gzip|snappy|lz4|zstd] [--max-block-ms n]
                                                 KafkaProducer; records on stdin; one result per record
  consume --topic t --partitions 0,1,.. --offset o --count n [--timeout-ms n]
                                                 KafkaConsumer assign + seek every partition to o, no group;
                                                 stops after n records in all
  group-consume --group g --topic t --count n [--timeout-ms n]
                                                 KafkaConsumer subscribe, commit()
  group-info --group g --topic t                list_consumer_group_offsets, describe/list_consumer_groups
  group-members --group g --topic t --members n --partitions p [--timeout-ms n]
                                                 n KafkaConsumers (one thread each) subscribe; once their
                                                 assignments are disjoint and complete, the last one closes
                                                 (LeaveGroup); then the others' assignments and the group as
                                                 describe_consumer_groups sees it
  configs --topic t --names a,b [--set k=v]...   alter_configs (AlterConfigs: replaces the topic's
                                                 overrides), then describe_configs
  create-partitions --topic t --count n          create_partitions
  delete-topic --topic t                         delete_topics

Records on stdin: one per line, TAB-separated: partition, timestamp (`-` = unset), key, value, then
headers `name=value`; key/value/header values are base64, `~` = null; a header without `=` is null.
Errors: {"error": {"class": ..., "message": ..., "kafka": <Kafka error name, if one>}}.
"""
import base64
import json
import logging
import sys
import threading
import time

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import KafkaError

logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

COMMON = {"client_id": "compat-kafka-python", "request_timeout_ms": 15000, "api_version_auto_timeout_ms": 10000}


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


def emit(doc):
    print(json.dumps(doc))
    sys.stdout.flush()


def b64(b):
    return None if b is None else base64.b64encode(b).decode("ascii")


def unb64(s):
    return None if s == "~" else base64.b64decode(s)


def error_json(e):
    kafka_name, errno = "NONE", None
    if isinstance(e, KafkaError) and getattr(e, "errno", None) is not None:
        kafka_name, errno = type(e).message, type(e).errno
    return {"class": type(e).__name__, "message": str(e), "kafka": kafka_name, "errno": errno}


def parse_options(argv):
    opts = {}
    if len(argv) % 2 != 0:
        fail("options come in pairs: %r" % (argv,))
    for i in range(0, len(argv), 2):
        if not argv[i].startswith("--"):
            fail("bad option %r" % argv[i])
        opts.setdefault(argv[i][2:], []).append(argv[i + 1])
    return opts


def opt(opts, name, default=None):
    v = opts.get(name)
    if not v:
        if default is None:
            fail("missing --" + name)
        return default
    return v[-1]


def record_json(r):
    return {
        "partition": r.partition, "offset": r.offset, "key": b64(r.key), "value": b64(r.value),
        "headers": [[k, b64(v)] for (k, v) in (r.headers or [])], "timestamp": r.timestamp,
    }


def metadata(bootstrap, opts):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **COMMON)
    try:
        cluster = admin.describe_cluster()
        listed = sorted(admin.list_topics())
        topics = []
        wanted = opt(opts, "topics", "")
        if wanted:
            for t in sorted(admin.describe_topics(wanted.split(",")), key=lambda t: t["topic"]):
                topics.append({
                    "name": t["topic"], "error": t["error_code"], "internal": t.get("is_internal", False),
                    "partitions": [{"partition": p["partition"], "leader": p["leader"], "replicas": p["replicas"], "isr": p["isr"], "error": p["error_code"]}
                                   for p in sorted(t["partitions"], key=lambda p: p["partition"])],
                })
        emit({
            "clusterId": cluster.get("cluster_id"), "controller": cluster.get("controller_id"),
            "brokers": sorted([{"id": b["node_id"], "host": b["host"], "port": b["port"]} for b in cluster["brokers"]], key=lambda b: b["id"]),
            "listed": listed, "topics": topics, "apiVersion": list(admin.config["api_version"]), "clientVersion": kafka.__version__,
        })
    finally:
        admin.close()


def create(bootstrap, opts):
    configs = dict(kv.split("=", 1) for kv in opts.get("config", []))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **COMMON)
    try:
        admin.create_topics([NewTopic(opt(opts, "topic"), int(opt(opts, "partitions", "1")), 1, topic_configs=configs)], timeout_ms=10000)
        emit({"ok": True})
    except KafkaError as e:
        emit({"error": error_json(e)})
    finally:
        admin.close()


def read_records():
    out = []
    for line in sys.stdin.read().split("\n"):
        if not line:
            continue
        f = line.split("\t")
        headers = []
        for h in f[4:]:
            name, eq, value = h.partition("=")
            headers.append((name, base64.b64decode(value) if eq else None))
        out.append({"partition": int(f[0]), "timestamp_ms": None if f[1] == "-" else int(f[1]), "key": unb64(f[2]), "value": unb64(f[3]), "headers": headers})
    return out


def produce(bootstrap, opts):
    acks = opt(opts, "acks", "all")
    codec = opt(opts, "codec", "none")
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks=acks if acks == "all" else int(acks), compression_type=None if codec == "none" else codec,
        linger_ms=5, max_block_ms=int(opt(opts, "max-block-ms", "15000")), retries=3, **COMMON)
    results = []
    try:
        futures = []
        for r in read_records():
            try:
                futures.append(producer.send(opt(opts, "topic"), value=r["value"], key=r["key"], headers=r["headers"], partition=r["partition"], timestamp_ms=r["timestamp_ms"]))
            except KafkaError as e:
                futures.append(e)
        producer.flush(timeout=30)
        for f in futures:
            if isinstance(f, Exception):
                results.append({"error": error_json(f)})
                continue
            try:
                md = f.get(timeout=30)
                results.append({"partition": md.partition, "offset": md.offset})
            except KafkaError as e:
                results.append({"error": error_json(e)})
        emit({"results": results, "apiVersion": list(producer.config["api_version"])})
    finally:
        producer.close(timeout=10)


def poll_until(consumer, count, timeout_ms):
    out = []
    deadline = time.time() + timeout_ms / 1000.0
    while len(out) < count and time.time() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            out.extend(record_json(r) for r in records)
    return out


def consume(bootstrap, opts):
    tps = [TopicPartition(opt(opts, "topic"), int(p)) for p in opt(opts, "partitions").split(",")]
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=200, **COMMON)
    try:
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, int(opt(opts, "offset", "0")))
        emit({"records": poll_until(consumer, int(opt(opts, "count")), int(opt(opts, "timeout-ms", "20000")))})
    finally:
        consumer.close(autocommit=False)


def group_consume(bootstrap, opts):
    count = int(opt(opts, "count"))
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=opt(opts, "group"), enable_auto_commit=False, auto_offset_reset="earliest",
        session_timeout_ms=10000, heartbeat_interval_ms=1000, fetch_max_wait_ms=200, **COMMON)
    try:
        consumer.subscribe([opt(opts, "topic")])
        out = poll_until(consumer, count, int(opt(opts, "timeout-ms", "40000")))
        if len(out) < count:
            emit({"records": out, "error": {"class": "timeout", "message": "received %d of %d records; assignment %r" % (len(out), count, consumer.assignment()), "kafka": "NONE"}})
            return
        try:
            consumer.commit()
            committed = {str(tp.partition): consumer.committed(tp) for tp in consumer.assignment()}
        except KafkaError as e:
            emit({"records": out, "error": error_json(e)})
            return
        emit({"records": out, "committed": committed})
    finally:
        consumer.close(autocommit=False)


def group_info(bootstrap, opts):
    group = opt(opts, "group")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **COMMON)
    try:
        offsets = admin.list_consumer_group_offsets(group)
        described = admin.describe_consumer_groups([group])[0]
        listed = admin.list_consumer_groups()
        emit({
            "committed": {str(tp.partition): om.offset for tp, om in offsets.items()},
            "state": described.state, "members": len(described.members), "protocolType": described.protocol_type,
            "groups": sorted(g for (g, _) in listed),
        })
    except KafkaError as e:
        emit({"error": error_json(e)})
    finally:
        admin.close()


def split(views, partitions):
    """Each member's partitions, if every member has some and together they hold each partition once."""
    if any(not v for v in views):
        return None
    flat = [p for v in views for p in v]
    return [list(v) for v in views] if len(flat) == partitions and len(set(flat)) == partitions else None


def await_split(views, partitions, deadline, failures):
    """Waits until the members' split has held for a second; None at the deadline."""
    seen, since = None, time.time()
    while time.time() < deadline and not failures:
        now = split([views[i] for i in sorted(views)], partitions)
        if now is None or now != seen:
            seen, since = now, time.time()
        elif time.time() - since >= 1.0:
            return now
        time.sleep(0.05)
    return None


def group_members(bootstrap, opts):
    topic, group = opt(opts, "topic"), opt(opts, "group")
    n, partitions = int(opt(opts, "members", "3")), int(opt(opts, "partitions"))
    deadline = time.time() + int(opt(opts, "timeout-ms", "40000")) / 1000.0
    views, stops, threads, failures = {}, [], [], []

    def run(i, stop):
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
                session_timeout_ms=10000, heartbeat_interval_ms=500, fetch_max_wait_ms=100, **dict(COMMON, client_id="compat-kafka-python-member-%d" % i))
            try:
                consumer.subscribe([topic])
                while not stop.is_set():
                    consumer.poll(timeout_ms=100)
                    if not stop.is_set():
                        views[i] = sorted(tp.partition for tp in consumer.assignment())
            finally:
                consumer.close(autocommit=False)
        except Exception as e:  # noqa: BLE001 - reported as the result
            failures.append(e)

    for i in range(n):
        views[i] = []
        stop = threading.Event()
        t = threading.Thread(target=run, args=(i, stop), daemon=True)
        stops.append(stop)
        threads.append(t)
        t.start()

    def timeout(msg):
        emit({"error": error_json(failures[0]) if failures else {"class": "timeout", "message": msg, "kafka": "NONE"}})

    try:
        before = await_split(views, partitions, deadline, failures)
        if before is None:
            return timeout("no disjoint and complete split among %d members; assignments %r" % (n, views))
        # The last member leaves (close() sends LeaveGroup); the others must take its partitions.
        stops[n - 1].set()
        threads[n - 1].join(20)
        del views[n - 1]
        after = await_split(views, partitions, deadline, failures)
        if after is None:
            return timeout("no disjoint and complete split among %d members after the leave; assignments %r; before %r" % (n - 1, views, before))
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, **COMMON)
        try:
            d = admin.describe_consumer_groups([group])[0]
            emit({"before": before, "after": after, "state": d.state, "members": len(d.members)})
        finally:
            admin.close()
    finally:
        for s in stops:
            s.set()
        for t in threads:
            t.join(20)


def configs(bootstrap, opts):
    topic = opt(opts, "topic")
    names = opt(opts, "names").split(",")
    sets = dict(kv.split("=", 1) for kv in opts.get("set", []))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **COMMON)
    try:
        if sets:
            for resp in [admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=sets)])]:
                for (code, message, _type, _name) in resp.resources:
                    if code != 0:
                        return emit({"error": {"class": "AlterConfigs", "message": message, "kafka": str(code), "errno": code}})
        out = {name: None for name in names}
        for resp in admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)]):
            for (code, message, _type, _name, entries) in resp.resources:
                if code != 0:
                    return emit({"error": {"class": "DescribeConfigs", "message": message, "kafka": str(code), "errno": code}})
                for e in entries:
                    # v0: (name, value, read_only, is_default, is_sensitive); v1+: (name, value, read_only, config_source, is_sensitive, synonyms)
                    if e[0] in out:
                        out[e[0]] = [e[1], e[3] if resp.API_VERSION == 0 else e[3] == 5]
        emit({"configs": out})
    except KafkaError as e:
        emit({"error": error_json(e)})
    finally:
        admin.close()


def create_partitions(bootstrap, opts):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **COMMON)
    try:
        resp = admin.create_partitions({opt(opts, "topic"): NewPartitions(int(opt(opts, "count")))}, timeout_ms=10000)
        errors = [(code, msg) for (_topic, code, msg) in resp.topic_errors if code != 0]
        emit({"error": {"class": "CreatePartitions", "message": errors[0][1], "kafka": str(errors[0][0]), "errno": errors[0][0]}} if errors else {"ok": True})
    except KafkaError as e:
        emit({"error": error_json(e)})
    finally:
        admin.close()


def delete_topic(bootstrap, opts):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **COMMON)
    try:
        resp = admin.delete_topics([opt(opts, "topic")], timeout_ms=10000)
        errors = [code for (_topic, code) in resp.topic_error_codes if code != 0]
        emit({"error": {"class": "DeleteTopics", "message": "", "kafka": str(errors[0]), "errno": errors[0]}} if errors else {"ok": True})
    except KafkaError as e:
        emit({"error": error_json(e)})
    finally:
        admin.close()


def main():
    if len(sys.argv) < 3:
        fail("usage: compat_client.py <bootstrap> <command> [--option value ...]")
    bootstrap, command, opts = sys.argv[1], sys.argv[2], parse_options(sys.argv[3:])
    commands = {"metadata": metadata, "create": create, "produce": produce, "consume": consume, "group-consume": group_consume, "group-info": group_info,
                "group-members": group_members, "configs": configs, "create-partitions": create_partitions, "delete-topic": delete_topic}
    if command not in commands:
        fail("unknown command %r" % command)
    commands[command](bootstrap, opts)


if __name__ == "__main__":
    main()
