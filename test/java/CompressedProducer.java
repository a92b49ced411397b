// Writes test records with the Java client, so tests read batches compressed the way most real topics are
// (snappy-java's xerial framing, lz4-java frames, zstd-jni streaming frames).
// Usage: CompressedProducer <bootstrap> <topic> <compression.type> <count> [partitions] [key=value ...]
// With a partition count, record i goes to partition i % partitions; otherwise its key "k<i>" decides.
// Values are JSON, about 300 bytes: {"n":i,"pad":"..."}. Prints only "sent <count>" on success.
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

public class CompressedProducer {
  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: CompressedProducer <bootstrap> <topic> <compression.type> <count> [partitions] [key=value ...]");
      System.exit(2);
    }
    String topic = args[1];
    int count = Integer.parseInt(args[3]);
    int next = 4;
    Integer partitions = null;
    if (args.length > next && !args[next].contains("=")) partitions = Integer.parseInt(args[next++]);

    Properties config = new Properties();
    config.put("bootstrap.servers", args[0]);
    config.put("compression.type", args[2]);
    config.put("enable.idempotence", "true");
    config.put("acks", "all");
    config.put("linger.ms", "5");
    config.put("key.serializer", StringSerializer.class.getName());
    config.put("value.serializer", StringSerializer.class.getName());
    for (; next < args.length; next++) {
      int eq = args[next].indexOf('=');
      config.put(args[next].substring(0, eq), args[next].substring(eq + 1));
    }

    String pad = "abcdefghijklmnopqrstuvwxyz".repeat(11).substring(0, 280);
    List<Future<RecordMetadata>> sent = new ArrayList<>(count);
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(config)) {
      for (int i = 0; i < count; i++) {
        String value = "{\"n\":" + i + ",\"pad\":\"" + pad + "\"}";
        Integer partition = partitions == null ? null : i % partitions;
        sent.add(producer.send(new ProducerRecord<>(topic, partition, "k" + i, value)));
      }
      producer.flush();
      for (Future<RecordMetadata> f : sent) f.get();
    }
    System.out.println("sent " + count);
  }
}
