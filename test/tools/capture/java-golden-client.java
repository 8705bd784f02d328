// Drives the official Java Kafka client (kafka-clients from the provisioned Kafka) for the golden fixture
// capture. Compiled and run by capture-fixtures.ts:
//   javac -cp '<kafka>/libs/*' -d <tmp> java-golden-client.java
//   java -cp '<tmp>:<kafka>/libs/*' JavaGoldenClient <bootstrap> <command> [args...]
//
// Commands:
//   create <topic>...                          Admin.createTopics (1 partition, RF 1)
//   delete <topic>...                          Admin.deleteTopics
//   produce <topic> <codec> <recordsFile>      KafkaProducer (idempotent default, acks=all), one batch
//   consume <group> <classic|consumer> <expectedCount> <topic>...
//                                              KafkaConsumer group subscribe, commitSync, close
//   dump <topic>...                            KafkaConsumer assign + seekToBeginning, no group
//
// Records file: one record per line, TAB-separated: key, value, timestamp, then zero or more headers
// `name=value`; key/value/header value are base64, `~` = null; header with no `=` has a null value.
// consume/dump print one line per record on stdout in the same format, prefixed by topic, partition, offset.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

final class JavaGoldenClient {
  static final Base64.Encoder B64 = Base64.getEncoder();
  static final Base64.Decoder B64D = Base64.getDecoder();

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: JavaGoldenClient <bootstrap> <create|delete|produce|consume|dump> [args...]");
      System.exit(2);
    }
    String bootstrap = args[0];
    String command = args[1];
    List<String> rest = List.of(args).subList(2, args.length);
    switch (command) {
      case "create" -> create(bootstrap, rest);
      case "delete" -> delete(bootstrap, rest);
      case "produce" -> produce(bootstrap, rest.get(0), rest.get(1), Path.of(rest.get(2)));
      case "consume" -> consume(bootstrap, rest.get(0), rest.get(1), Integer.parseInt(rest.get(2)), rest.subList(3, rest.size()));
      case "dump" -> dump(bootstrap, rest);
      default -> {
        System.err.println("unknown command " + command);
        System.exit(2);
      }
    }
  }

  static Properties common(String bootstrap, String clientId) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, clientId);
    return p;
  }

  static void create(String bootstrap, List<String> topics) throws Exception {
    try (Admin admin = Admin.create(common(bootstrap, "golden-java-admin"))) {
      List<NewTopic> newTopics = new ArrayList<>();
      for (String t : topics) newTopics.add(new NewTopic(t, 1, (short) 1));
      admin.createTopics(newTopics).all().get();
      System.err.println("[java] created " + topics);
    }
  }

  static void delete(String bootstrap, List<String> topics) throws Exception {
    try (Admin admin = Admin.create(common(bootstrap, "golden-java-admin"))) {
      admin.deleteTopics(topics).all().get();
      System.err.println("[java] deleted " + topics);
    }
  }

  static byte[] dec(String field) {
    return field.equals("~") ? null : B64D.decode(field);
  }

  static String enc(byte[] bytes) {
    return bytes == null ? "~" : B64.encodeToString(bytes);
  }

  static void produce(String bootstrap, String topic, String codec, Path recordsFile) throws Exception {
    Properties p = common(bootstrap, "golden-java-producer");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5000");
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, String.valueOf(1 << 20));
    List<Future<RecordMetadata>> acks = new ArrayList<>();
    int count = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      for (String line : Files.readAllLines(recordsFile, StandardCharsets.UTF_8)) {
        if (line.isEmpty()) continue;
        String[] f = line.split("\t", -1);
        List<Header> headers = new ArrayList<>();
        for (int i = 3; i < f.length; i++) {
          int eq = f[i].indexOf('=');
          if (eq < 0) headers.add(new RecordHeader(f[i], null));
          else headers.add(new RecordHeader(f[i].substring(0, eq), dec(f[i].substring(eq + 1))));
        }
        Long ts = f[2].equals("~") ? null : Long.parseLong(f[2]);
        acks.add(producer.send(new ProducerRecord<>(topic, 0, ts, dec(f[0]), dec(f[1]), headers)));
        count++;
      }
      producer.flush();
      for (Future<RecordMetadata> a : acks) a.get();
    }
    System.err.println("[java] produced " + count + " records to " + topic + " with compression.type=" + codec);
  }

  static void print(ConsumerRecord<byte[], byte[]> r) {
    StringBuilder sb = new StringBuilder();
    sb.append(r.topic()).append('\t').append(r.partition()).append('\t').append(r.offset()).append('\t');
    sb.append(enc(r.key())).append('\t').append(enc(r.value())).append('\t').append(r.timestamp());
    for (Header h : r.headers()) {
      sb.append('\t').append(h.key());
      if (h.value() != null) sb.append('=').append(enc(h.value()));
    }
    System.out.println(sb);
  }

  static Properties consumerProps(String bootstrap, String clientId) {
    Properties p = common(bootstrap, clientId);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    return p;
  }

  static void consume(String bootstrap, String group, String protocol, int expected, List<String> topics) {
    Properties p = consumerProps(bootstrap, "golden-java-consumer-" + protocol);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
    if (protocol.equals("classic")) p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "300");
    int got = 0;
    long deadline = System.currentTimeMillis() + 60_000;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(topics);
      while (got < expected && System.currentTimeMillis() < deadline) {
        ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(500));
        for (ConsumerRecord<byte[], byte[]> r : records) {
          print(r);
          got++;
        }
        if (!records.isEmpty()) consumer.commitSync();
      }
      // Stay in the group a little so that heartbeats are captured too.
      long lingerUntil = System.currentTimeMillis() + 1200;
      while (System.currentTimeMillis() < lingerUntil) consumer.poll(Duration.ofMillis(200));
    }
    System.err.println("[java] group " + group + " (" + protocol + ") consumed " + got + "/" + expected + " records");
    if (got < expected) System.exit(3);
  }

  static void dump(String bootstrap, List<String> topics) {
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap, "golden-java-dump"))) {
      List<TopicPartition> tps = new ArrayList<>();
      for (String t : topics) {
        for (PartitionInfo pi : consumer.partitionsFor(t)) tps.add(new TopicPartition(t, pi.partition()));
      }
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      Map<TopicPartition, Long> end = consumer.endOffsets(tps);
      Map<TopicPartition, Long> pos = new HashMap<>();
      long deadline = System.currentTimeMillis() + 60_000;
      while (System.currentTimeMillis() < deadline) {
        boolean done = true;
        for (TopicPartition tp : tps) {
          pos.put(tp, consumer.position(tp));
          if (pos.get(tp) < end.get(tp)) done = false;
        }
        if (done) break;
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) print(r);
      }
      System.err.println("[java] dumped " + tps.size() + " partitions up to " + end);
    }
  }
}
