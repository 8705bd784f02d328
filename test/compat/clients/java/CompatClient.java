// The Apache Kafka Java client (kafka-clients 4.0) driven by the Millrace compatibility suite.
// Built by test/compat/setup.sh:  javac -cp '<cache>/java/libs/*' -d <cache>/java/classes CompatClient.java
// Run:  java -cp '<cache>/java/classes:<cache>/java/libs/*' CompatClient <bootstrap> <command> [--option value ...]
//
// Commands (each prints ONE JSON document on the last stdout line; logs go to stderr):
//   metadata [--topics a,b]                      Admin describeCluster + listTopics + describeTopics
//   create --topic t --partitions n [--config k=v]...   Admin createTopics (replication factor 1)
//   describe-topic --topic t                     Admin describeTopics (errors are reported, not thrown)
//   produce --topic t [--acks all|1|0] [--codec none|gzip|snappy|lz4|zstd] [--idempotent true|false]
//           [--max-block-ms n]                   KafkaProducer; records on stdin (format below), one
//                                                result per record: {partition, offset} or {error}
//   consume --topic t --partitions 0,1,.. --offset o --count n [--timeout-ms n]
//                                                KafkaConsumer assign + seek every partition to o, no group;
//                                                stops after n records in all
//   group-consume --group g --topic t --count n [--timeout-ms n]
//                                                KafkaConsumer subscribe (classic protocol), commitSync
//   group-info --group g --topic t              Admin listConsumerGroupOffsets, describeConsumerGroups, listConsumerGroups
//   group-members --group g --topic t --members n --partitions p [--timeout-ms n]
//                                                n KafkaConsumers (one thread each) subscribe; once their
//                                                assignments are disjoint and complete, the last one closes
//                                                (LeaveGroup); then the others' assignments and the group
//                                                as describeConsumerGroups sees it
//   configs --topic t --names a,b [--set k=v]...   Admin incrementalAlterConfigs (SET), then describeConfigs
//   create-partitions --topic t --count n        Admin createPartitions
//   delete-topic --topic t                       Admin deleteTopics
//
// Records on stdin: one per line, TAB-separated: partition, timestamp (`-` = unset), key, value, then
// headers `name=value`; key/value/header values are base64, `~` = null; a header without `=` is null.
// Errors: {"error": {"class": ..., "message": ..., "kafka": <Errors name of the exception>}}.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

final class CompatClient {
  static final Base64.Encoder B64 = Base64.getEncoder();
  static final Base64.Decoder B64D = Base64.getDecoder();
  static final long ADMIN_TIMEOUT_MS = 20_000;

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: CompatClient <bootstrap> <command> [--option value ...]");
      System.exit(2);
    }
    String bootstrap = args[0];
    String command = args[1];
    Map<String, List<String>> opts = new HashMap<>();
    for (int i = 2; i < args.length; i += 2) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        System.err.println("bad option " + args[i]);
        System.exit(2);
      }
      opts.computeIfAbsent(args[i].substring(2), k -> new ArrayList<>()).add(args[i + 1]);
    }
    String out;
    try {
      out = run(bootstrap, command, opts);
    } catch (Throwable t) {
      // Anything the command did not expect: the exception goes to stderr and into the JSON (exit 1).
      t.printStackTrace();
      System.out.println("{\"fatal\":" + error(t) + "}");
      System.out.flush();
      System.exit(1);
      return;
    }
    System.out.println(out);
    System.out.flush();
    // Client threads (metadata refresh, heartbeats) must not keep the JVM alive.
    System.exit(0);
  }

  static String run(String bootstrap, String command, Map<String, List<String>> opts) throws Exception {
    return switch (command) {
      case "metadata" -> metadata(bootstrap, opts);
      case "describe-quorum" -> describeQuorum(bootstrap);
      case "create" -> create(bootstrap, opts);
      case "describe-topic" -> describeTopic(bootstrap, opts);
      case "produce" -> produce(bootstrap, opts);
      case "consume" -> consume(bootstrap, opts);
      case "group-consume" -> groupConsume(bootstrap, opts);
      case "group-info" -> groupInfo(bootstrap, opts);
      case "group-members" -> groupMembers(bootstrap, opts);
      case "configs" -> configs(bootstrap, opts);
      case "create-partitions" -> createPartitions(bootstrap, opts);
      case "delete-topic" -> deleteTopic(bootstrap, opts);
      default -> throw new IllegalArgumentException("unknown command " + command);
    };
  }

  static String opt(Map<String, List<String>> opts, String name, String def) {
    List<String> v = opts.get(name);
    if (v == null || v.isEmpty()) {
      if (def == null) throw new IllegalArgumentException("missing --" + name);
      return def;
    }
    return v.get(v.size() - 1);
  }

  // ---------------------------------------------------------------- JSON output

  static String q(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }

  static String b64(byte[] bytes) {
    return bytes == null ? "null" : q(B64.encodeToString(bytes));
  }

  static Throwable unwrap(Throwable e) {
    while ((e instanceof ExecutionException || e.getClass() == org.apache.kafka.common.KafkaException.class) && e.getCause() != null) e = e.getCause();
    return e;
  }

  static String error(Throwable e) {
    Throwable t = unwrap(e);
    return "{\"class\":" + q(t.getClass().getName()) + ",\"message\":" + q(t.getMessage()) + ",\"kafka\":" + q(Errors.forException(t).name()) + "}";
  }

  static String ints(Collection<Integer> xs) {
    return "[" + xs.stream().map(String::valueOf).collect(Collectors.joining(",")) + "]";
  }

  // ---------------------------------------------------------------- admin

  static Properties adminProps(String bootstrap) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, "compat-java-admin");
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
    return p;
  }

  static <T> T get(KafkaFuture<T> f) throws Exception {
    return f.get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
  }

  /** Admin.describeMetadataQuorum (what kafka-metadata-quorum describe --status/--replication prints). */
  static String describeQuorum(String bootstrap) throws Exception {
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      org.apache.kafka.clients.admin.QuorumInfo info = get(admin.describeMetadataQuorum().quorumInfo());
      StringBuilder out = new StringBuilder("{\"leaderId\":").append(info.leaderId())
          .append(",\"leaderEpoch\":").append(info.leaderEpoch())
          .append(",\"highWatermark\":").append(info.highWatermark());
      for (String kind : List.of("voters", "observers")) {
        List<org.apache.kafka.clients.admin.QuorumInfo.ReplicaState> replicas = kind.equals("voters") ? info.voters() : info.observers();
        out.append(",\"").append(kind).append("\":[");
        for (int i = 0; i < replicas.size(); i++) {
          org.apache.kafka.clients.admin.QuorumInfo.ReplicaState r = replicas.get(i);
          if (i > 0) out.append(',');
          out.append("{\"replicaId\":").append(r.replicaId())
              .append(",\"logEndOffset\":").append(r.logEndOffset())
              .append(",\"lastFetchTimestamp\":").append(r.lastFetchTimestamp().orElse(-1L))
              .append(",\"lastCaughtUpTimestamp\":").append(r.lastCaughtUpTimestamp().orElse(-1L)).append('}');
        }
        out.append(']');
      }
      return out.append('}').toString();
    }
  }

  static String metadata(String bootstrap, Map<String, List<String>> opts) throws Exception {
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      DescribeClusterResult cluster = admin.describeCluster();
      String clusterId = get(cluster.clusterId());
      Node controller = get(cluster.controller());
      List<Node> nodes = new ArrayList<>(get(cluster.nodes()));
      nodes.sort((a, b) -> Integer.compare(a.id(), b.id()));
      Set<String> listed = get(admin.listTopics().names());
      List<String> wanted = opts.containsKey("topics") ? List.of(opt(opts, "topics", "").split(",")) : List.of();
      StringBuilder topics = new StringBuilder("[");
      if (!wanted.isEmpty()) {
        Map<String, TopicDescription> described = new TreeMap<>(get(admin.describeTopics(wanted).allTopicNames()));
        boolean first = true;
        for (TopicDescription d : described.values()) {
          if (!first) topics.append(',');
          first = false;
          topics.append("{\"name\":").append(q(d.name())).append(",\"internal\":").append(d.isInternal()).append(",\"partitions\":[");
          boolean firstP = true;
          for (TopicPartitionInfo p : d.partitions()) {
            if (!firstP) topics.append(',');
            firstP = false;
            topics.append("{\"partition\":").append(p.partition())
                .append(",\"leader\":").append(p.leader() == null ? -1 : p.leader().id())
                .append(",\"replicas\":").append(ints(p.replicas().stream().map(Node::id).toList()))
                .append(",\"isr\":").append(ints(p.isr().stream().map(Node::id).toList())).append('}');
          }
          topics.append("]}");
        }
      }
      topics.append(']');
      StringBuilder brokers = new StringBuilder("[");
      for (int i = 0; i < nodes.size(); i++) {
        Node n = nodes.get(i);
        if (i > 0) brokers.append(',');
        brokers.append("{\"id\":").append(n.id()).append(",\"host\":").append(q(n.host())).append(",\"port\":").append(n.port()).append('}');
      }
      brokers.append(']');
      String names = "[" + listed.stream().sorted().map(CompatClient::q).collect(Collectors.joining(",")) + "]";
      return "{\"clusterId\":" + q(clusterId) + ",\"controller\":" + (controller == null ? -1 : controller.id())
          + ",\"brokers\":" + brokers + ",\"listed\":" + names + ",\"topics\":" + topics + "}";
    }
  }

  static String create(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String topic = opt(opts, "topic", null);
    int partitions = Integer.parseInt(opt(opts, "partitions", "1"));
    Map<String, String> configs = new HashMap<>();
    for (String kv : opts.getOrDefault("config", List.of())) {
      int eq = kv.indexOf('=');
      configs.put(kv.substring(0, eq), kv.substring(eq + 1));
    }
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      try {
        get(admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1).configs(configs))).all());
        return "{\"ok\":true}";
      } catch (ExecutionException e) {
        return "{\"error\":" + error(e) + "}";
      }
    }
  }

  static String describeTopic(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String topic = opt(opts, "topic", null);
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      try {
        TopicDescription d = get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic);
        return "{\"ok\":true,\"partitions\":" + d.partitions().size() + "}";
      } catch (ExecutionException e) {
        return "{\"error\":" + error(e) + "}";
      }
    }
  }

  // ---------------------------------------------------------------- producer

  record InRecord(int partition, Long timestamp, byte[] key, byte[] value, List<Header> headers) {}

  static byte[] unb64(String s) {
    return s.equals("~") ? null : B64D.decode(s);
  }

  static List<InRecord> readRecords() throws Exception {
    List<InRecord> out = new ArrayList<>();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isEmpty()) continue;
      String[] f = line.split("\t", -1);
      List<Header> headers = new ArrayList<>();
      for (int i = 4; i < f.length; i++) {
        int eq = f[i].indexOf('=');
        headers.add(eq < 0 ? new RecordHeader(f[i], null) : new RecordHeader(f[i].substring(0, eq), B64D.decode(f[i].substring(eq + 1))));
      }
      out.add(new InRecord(Integer.parseInt(f[0]), f[1].equals("-") ? null : Long.parseLong(f[1]), unb64(f[2]), unb64(f[3]), headers));
    }
    return out;
  }

  static String produce(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String topic = opt(opts, "topic", null);
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-java-producer");
    p.put(ProducerConfig.ACKS_CONFIG, opt(opts, "acks", "all"));
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, opt(opts, "codec", "none"));
    if (opts.containsKey("idempotent")) p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, opt(opts, "idempotent", "true"));
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, opt(opts, "max-block-ms", "15000"));
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    List<InRecord> records = readRecords();
    String[] results = new String[records.size()];
    CountDownLatch done = new CountDownLatch(records.size());
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      for (int i = 0; i < records.size(); i++) {
        InRecord r = records.get(i);
        final int idx = i;
        try {
          producer.send(new ProducerRecord<>(topic, r.partition(), r.timestamp(), r.key(), r.value(), r.headers()), (RecordMetadata md, Exception e) -> {
            results[idx] = e != null ? "{\"error\":" + error(e) + "}" : "{\"partition\":" + md.partition() + ",\"offset\":" + md.offset() + "}";
            done.countDown();
          });
        } catch (Exception e) {
          results[idx] = "{\"error\":" + error(e) + "}";
          done.countDown();
        }
      }
      producer.flush();
      if (!done.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("producer callbacks missing after 60 s");
    }
    return "{\"results\":[" + String.join(",", results) + "]}";
  }

  // ---------------------------------------------------------------- consumer

  static Properties consumerProps(String bootstrap, String group) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-java-consumer");
    if (group != null) {
      p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
      p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
      p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
      p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
    }
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    return p;
  }

  static String recordJson(ConsumerRecord<byte[], byte[]> r) {
    StringBuilder h = new StringBuilder("[");
    boolean first = true;
    for (Header header : r.headers()) {
      if (!first) h.append(',');
      first = false;
      h.append('[').append(q(header.key())).append(',').append(b64(header.value())).append(']');
    }
    h.append(']');
    return "{\"partition\":" + r.partition() + ",\"offset\":" + r.offset() + ",\"key\":" + b64(r.key()) + ",\"value\":" + b64(r.value())
        + ",\"headers\":" + h + ",\"timestamp\":" + r.timestamp() + ",\"timestampType\":" + q(r.timestampType().name) + "}";
  }

  static String consume(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String topic = opt(opts, "topic", null);
    List<TopicPartition> tps = new ArrayList<>();
    for (String p : opt(opts, "partitions", null).split(",")) tps.add(new TopicPartition(topic, Integer.parseInt(p)));
    long offset = Long.parseLong(opt(opts, "offset", "0"));
    int count = Integer.parseInt(opt(opts, "count", null));
    long deadline = System.currentTimeMillis() + Long.parseLong(opt(opts, "timeout-ms", "20000"));
    List<String> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap, null))) {
      consumer.assign(tps);
      for (TopicPartition tp : tps) consumer.seek(tp, offset);
      while (out.size() < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) out.add(recordJson(r));
      }
      return "{\"records\":[" + String.join(",", out) + "]}";
    }
  }

  static String groupConsume(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String topic = opt(opts, "topic", null);
    String group = opt(opts, "group", null);
    int count = Integer.parseInt(opt(opts, "count", null));
    long deadline = System.currentTimeMillis() + Long.parseLong(opt(opts, "timeout-ms", "40000"));
    List<String> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap, group))) {
      consumer.subscribe(List.of(topic));
      while (out.size() < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) out.add(recordJson(r));
      }
      if (out.size() < count) {
        return "{\"error\":{\"class\":\"timeout\",\"message\":" + q("received " + out.size() + " of " + count + " records; assignment " + consumer.assignment()) + ",\"kafka\":\"NONE\"},\"records\":[" + String.join(",", out) + "]}";
      }
      consumer.commitSync(Duration.ofSeconds(20));
      Set<TopicPartition> assigned = consumer.assignment();
      Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(assigned, Duration.ofSeconds(20));
      return "{\"records\":[" + String.join(",", out) + "],\"committed\":" + offsetsJson(committed) + "}";
    }
  }

  static String offsetsJson(Map<TopicPartition, OffsetAndMetadata> offsets) {
    TreeMap<Integer, Long> sorted = new TreeMap<>();
    offsets.forEach((tp, om) -> sorted.put(tp.partition(), om == null ? -1L : om.offset()));
    return "{" + sorted.entrySet().stream().map(e -> q(String.valueOf(e.getKey())) + ":" + e.getValue()).collect(Collectors.joining(",")) + "}";
  }

  @SuppressWarnings("deprecation")
  static String groupInfo(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String group = opt(opts, "group", null);
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      Map<TopicPartition, OffsetAndMetadata> offsets = get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
      ConsumerGroupDescription d = get(admin.describeConsumerGroups(List.of(group)).all()).get(group);
      Collection<ConsumerGroupListing> listed = get(admin.listConsumerGroups().all());
      String groups = "[" + listed.stream().map(ConsumerGroupListing::groupId).sorted().map(CompatClient::q).collect(Collectors.joining(",")) + "]";
      return "{\"committed\":" + offsetsJson(offsets) + ",\"state\":" + q(d.groupState().toString()) + ",\"members\":" + d.members().size()
          + ",\"protocol\":" + q(d.partitionAssignor()) + ",\"groups\":" + groups + "}";
    }
  }

  // ---------------------------------------------------------------- group of several members

  /** Each member's partitions, if every member has some and together they hold each partition once. */
  static List<List<Integer>> split(List<Set<Integer>> members, int partitions) {
    List<List<Integer>> out = new ArrayList<>();
    Set<Integer> all = new java.util.TreeSet<>();
    int total = 0;
    for (Set<Integer> m : members) {
      List<Integer> mine = new ArrayList<>(m);
      mine.sort(Integer::compare);
      if (mine.isEmpty()) return null;
      out.add(mine);
      all.addAll(mine);
      total += mine.size();
    }
    return total == partitions && all.size() == partitions ? out : null;
  }

  static String splitJson(List<List<Integer>> s) {
    return s == null ? "null" : "[" + s.stream().map(CompatClient::ints).collect(Collectors.joining(",")) + "]";
  }

  /** Waits until the members' split holds for a second; null at the deadline. */
  static List<List<Integer>> awaitSplit(List<Set<Integer>> members, int partitions, long deadline, AtomicReference<Throwable> failure) throws Exception {
    List<List<Integer>> seen = null;
    long since = 0;
    while (System.currentTimeMillis() < deadline && failure.get() == null) {
      List<List<Integer>> now = split(members, partitions);
      if (now == null || !now.equals(seen)) {
        seen = now;
        since = System.currentTimeMillis();
      } else if (System.currentTimeMillis() - since >= 1000) {
        return now;
      }
      Thread.sleep(50);
    }
    return null;
  }

  static String groupMembers(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String topic = opt(opts, "topic", null);
    String group = opt(opts, "group", null);
    int n = Integer.parseInt(opt(opts, "members", "3"));
    int partitions = Integer.parseInt(opt(opts, "partitions", null));
    long deadline = System.currentTimeMillis() + Long.parseLong(opt(opts, "timeout-ms", "40000"));
    List<Set<Integer>> assigned = new ArrayList<>();
    List<AtomicBoolean> stop = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    for (int i = 0; i < n; i++) {
      Set<Integer> mine = ConcurrentHashMap.newKeySet();
      AtomicBoolean stopMe = new AtomicBoolean();
      assigned.add(mine);
      stop.add(stopMe);
      Properties props = consumerProps(bootstrap, group);
      props.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-java-member-" + i);
      Thread t = new Thread(() -> {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
          consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            @Override public void onPartitionsRevoked(Collection<TopicPartition> ps) { ps.forEach(tp -> mine.remove(tp.partition())); }
            @Override public void onPartitionsAssigned(Collection<TopicPartition> ps) { ps.forEach(tp -> mine.add(tp.partition())); }
          });
          while (!stopMe.get()) consumer.poll(Duration.ofMillis(100));
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      }, "member-" + i);
      threads.add(t);
      t.start();
    }
    try {
      List<List<Integer>> before = awaitSplit(assigned, partitions, deadline, failure);
      if (before == null) return groupMembersError("no disjoint and complete split among " + n + " members; assignments " + assigned, failure.get());
      // The last member leaves (close() sends LeaveGroup); the others must take its partitions.
      stop.get(n - 1).set(true);
      threads.get(n - 1).join(20_000);
      List<List<Integer>> after = awaitSplit(assigned.subList(0, n - 1), partitions, deadline, failure);
      if (after == null) return groupMembersError("no disjoint and complete split among " + (n - 1) + " members after the leave; assignments " + assigned.subList(0, n - 1) + "; before " + before, failure.get());
      try (Admin admin = Admin.create(adminProps(bootstrap))) {
        ConsumerGroupDescription d = get(admin.describeConsumerGroups(List.of(group)).all()).get(group);
        return "{\"before\":" + splitJson(before) + ",\"after\":" + splitJson(after) + ",\"state\":" + q(d.groupState().toString()) + ",\"members\":" + d.members().size() + "}";
      }
    } finally {
      stop.forEach(s -> s.set(true));
      for (Thread t : threads) t.join(20_000);
    }
  }

  static String groupMembersError(String message, Throwable failure) {
    return "{\"error\":" + (failure != null ? error(failure) : "{\"class\":\"timeout\",\"message\":" + q(message) + ",\"kafka\":\"NONE\"}") + "}";
  }

  // ---------------------------------------------------------------- admin: configs, partitions, delete

  static String configs(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String topic = opt(opts, "topic", null);
    List<String> names = List.of(opt(opts, "names", null).split(","));
    ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      try {
        List<AlterConfigOp> ops = new ArrayList<>();
        for (String kv : opts.getOrDefault("set", List.of())) {
          int eq = kv.indexOf('=');
          ops.add(new AlterConfigOp(new ConfigEntry(kv.substring(0, eq), kv.substring(eq + 1)), AlterConfigOp.OpType.SET));
        }
        if (!ops.isEmpty()) get(admin.incrementalAlterConfigs(Map.of(resource, ops)).all());
        Config config = get(admin.describeConfigs(List.of(resource)).all()).get(resource);
        TreeMap<String, String> out = new TreeMap<>();
        for (String name : names) {
          ConfigEntry e = config.get(name);
          out.put(name, e == null ? "null" : "[" + q(e.value()) + "," + e.isDefault() + "]");
        }
        return "{\"configs\":{" + out.entrySet().stream().map(e -> q(e.getKey()) + ":" + e.getValue()).collect(Collectors.joining(",")) + "}}";
      } catch (ExecutionException e) {
        return "{\"error\":" + error(e) + "}";
      }
    }
  }

  static String createPartitions(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String topic = opt(opts, "topic", null);
    int count = Integer.parseInt(opt(opts, "count", null));
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      try {
        get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(count))).all());
        return "{\"ok\":true}";
      } catch (ExecutionException e) {
        return "{\"error\":" + error(e) + "}";
      }
    }
  }

  static String deleteTopic(String bootstrap, Map<String, List<String>> opts) throws Exception {
    String topic = opt(opts, "topic", null);
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      try {
        get(admin.deleteTopics(List.of(topic)).all());
        return "{\"ok\":true}";
      } catch (ExecutionException e) {
        return "{\"error\":" + error(e) + "}";
      }
    }
  }
}
