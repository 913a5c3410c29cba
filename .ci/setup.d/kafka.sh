# Sourced by .ci/run: one single-node Kafka broker (KRaft) for the whole test run. The jars come from
# Maven Central through test/kafka/pom.xml and are cached in ~/.cache/flowwright; the Kafka tests read
# the address from FLOWWRIGHT_KAFKA_BROKERS and, with FLOWWRIGHT_REQUIRE_KAFKA=1, fail instead of
# skipping when no broker can run.
export FLOWWRIGHT_REQUIRE_KAFKA=1
kafka_dir="$(mktemp -d "${TMPDIR:-/tmp}/flowwright-kafka-ci.XXXXXX")"
FLOWWRIGHT_KAFKA_BROKERS="$(node test/kafka/broker.mjs start --dir "$kafka_dir")"
export FLOWWRIGHT_KAFKA_BROKERS
echo "kafka broker at $FLOWWRIGHT_KAFKA_BROKERS"
ci_on_exit "node test/kafka/broker.mjs stop --dir '$kafka_dir'"
