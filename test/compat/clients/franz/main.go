// franz-go (kgo + kadm) driven by the Millrace compatibility suite.
// Built by test/compat/setup.sh:  go build -o <cache>/franz/franz-compat .
// Run:  franz-compat <bootstrap> <command> [--option value ...]
//
// Commands (each prints ONE JSON document on the last stdout line; logs go to stderr):
//
//	metadata [--topics a,b]                         kadm BrokerMetadata + ListTopics + Metadata
//	create --topic t --partitions n [--config k=v]...   kadm CreateTopics (replication factor 1)
//	produce --topic t [--acks all|1|0] [--codec none|gzip|snappy|lz4|zstd] [--idempotent true|false]
//	        [--unknown-topic-retries n]              kgo producer (manual partitioner); records on stdin;
//	                                                one result per record: {partition, offset} or {error}
//	consume --topic t --partitions 0,1,.. --offset o --count n [--timeout-ms n]
//	                                                kgo ConsumePartitions from offset o, no group;
//	                                                stops after n records in all
//	group-consume --group g --topic t --count n [--timeout-ms n]
//	                                                kgo consumer group, CommitUncommittedOffsets
//	group-info --group g --topic t                 kadm FetchOffsets, DescribeGroups, ListGroups
//	group-members --group g --topic t --members n --partitions p [--timeout-ms n]
//	                                                n kgo group clients (default cooperative-sticky
//	                                                balancer); once their assignments are disjoint and
//	                                                complete, the last one closes (LeaveGroup); then the
//	                                                others' assignments and kadm DescribeGroups
//	configs --topic t --names a,b [--set k=v]...    kadm AlterTopicConfigs (incremental SET), then
//	                                                DescribeTopicConfigs
//	create-partitions --topic t --count n           kadm UpdatePartitions (to n in all)
//	delete-topic --topic t                          kadm DeleteTopics
//
// Records on stdin: one per line, TAB-separated: partition, timestamp (`-` = unset), key, value, then
// headers `name=value`; key/value/header values are base64, `~` = null; a header without `=` is null.
// Errors: {"error": {"class": <Go type>, "message": ..., "kafka": <Kafka error name, if one>}}.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type options map[string][]string

func (o options) get(name, def string) string {
	v := o[name]
	if len(v) == 0 {
		if def == "\x00" {
			fail("missing --%s", name)
		}
		return def
	}
	return v[len(v)-1]
}

func (o options) int(name string, def int) int {
	s := o.get(name, strconv.Itoa(def))
	n, err := strconv.Atoi(s)
	if err != nil {
		fail("--%s: %v", name, err)
	}
	return n
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

type errorJSON struct {
	Class   string `json:"class"`
	Message string `json:"message"`
	Kafka   string `json:"kafka"`
}

func errJSON(err error) *errorJSON {
	if err == nil {
		return nil
	}
	out := &errorJSON{Class: fmt.Sprintf("%T", err), Message: err.Error(), Kafka: "NONE"}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		out.Kafka = ke.Message
	}
	return out
}

type wireRecord struct {
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Headers   [][2]*string `json:"headers"`
	Timestamp int64        `json:"timestamp"`
	// What franz-go decoded from the batch header (idempotence checks).
	ProducerID    int64 `json:"producerId"`
	ProducerEpoch int16 `json:"producerEpoch"`
}

func b64(b []byte) *string {
	if b == nil {
		return nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}

func unb64(s string) []byte {
	if s == "~" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		fail("bad base64 %q: %v", s, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

func toWire(r *kgo.Record) wireRecord {
	headers := make([][2]*string, 0, len(r.Headers))
	for _, h := range r.Headers {
		name := h.Key
		headers = append(headers, [2]*string{&name, b64(h.Value)})
	}
	return wireRecord{
		Partition: r.Partition, Offset: r.Offset, Key: b64(r.Key), Value: b64(r.Value), Headers: headers,
		Timestamp: r.Timestamp.UnixMilli(), ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch,
	}
}

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail("json: %v", err)
	}
	fmt.Println(string(b))
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: franz-compat <bootstrap> <command> [--option value ...]")
	}
	bootstrap, command := os.Args[1], os.Args[2]
	opts := options{}
	rest := os.Args[3:]
	for i := 0; i < len(rest); i += 2 {
		if !strings.HasPrefix(rest[i], "--") || i+1 >= len(rest) {
			fail("bad option %q", rest[i])
		}
		opts[rest[i][2:]] = append(opts[rest[i][2:]], rest[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	switch command {
	case "metadata":
		metadata(ctx, bootstrap, opts)
	case "create":
		create(ctx, bootstrap, opts)
	case "produce":
		produce(ctx, bootstrap, opts)
	case "consume":
		consume(ctx, bootstrap, opts)
	case "group-consume":
		groupConsume(ctx, bootstrap, opts)
	case "group-info":
		groupInfo(ctx, bootstrap, opts)
	case "group-members":
		groupMembers(ctx, bootstrap, opts)
	case "configs":
		configs(ctx, bootstrap, opts)
	case "create-partitions":
		createPartitions(ctx, bootstrap, opts)
	case "delete-topic":
		deleteTopic(ctx, bootstrap, opts)
	case "version":
		emit(map[string]string{"client": "franz-go"})
	default:
		fail("unknown command %q", command)
	}
}

func newClient(bootstrap string, extra ...kgo.Opt) *kgo.Client {
	o := append([]kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.ClientID("compat-franz"), kgo.RequestTimeoutOverhead(10 * time.Second)}, extra...)
	cl, err := kgo.NewClient(o...)
	if err != nil {
		fail("kgo.NewClient: %v", err)
	}
	return cl
}

type partitionJSON struct {
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
	Error     *string `json:"error"`
}

type topicJSON struct {
	Name       string          `json:"name"`
	ID         string          `json:"id"`
	Internal   bool            `json:"internal"`
	Error      *string         `json:"error"`
	Partitions []partitionJSON `json:"partitions"`
}

type brokerJSON struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
}

func errName(err error) *string {
	if err == nil {
		return nil
	}
	e := errJSON(err)
	s := e.Kafka
	if s == "NONE" {
		s = e.Message
	}
	return &s
}

func metadata(ctx context.Context, bootstrap string, opts options) {
	cl := newClient(bootstrap)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	bm, err := adm.BrokerMetadata(ctx)
	if err != nil {
		fail("BrokerMetadata: %v", err)
	}
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		fail("ListTopics: %v", err)
	}
	names := listed.Names()
	sort.Strings(names)
	var topics []topicJSON
	if want := opts.get("topics", ""); want != "" {
		md, err := adm.Metadata(ctx, strings.Split(want, ",")...)
		if err != nil {
			fail("Metadata: %v", err)
		}
		for _, name := range md.Topics.Names() {
			t := md.Topics[name]
			tj := topicJSON{Name: name, ID: t.ID.String(), Internal: t.IsInternal, Error: errName(t.Err), Partitions: []partitionJSON{}}
			for _, p := range t.Partitions.Sorted() {
				tj.Partitions = append(tj.Partitions, partitionJSON{Partition: p.Partition, Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR, Error: errName(p.Err)})
			}
			topics = append(topics, tj)
		}
	}
	brokers := []brokerJSON{}
	for _, b := range bm.Brokers {
		brokers = append(brokers, brokerJSON{ID: b.NodeID, Host: b.Host, Port: b.Port})
	}
	emit(map[string]any{"clusterId": bm.Cluster, "controller": bm.Controller, "brokers": brokers, "listed": names, "topics": topics})
}

func create(ctx context.Context, bootstrap string, opts options) {
	cl := newClient(bootstrap)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	configs := map[string]*string{}
	for _, kv := range opts["config"] {
		k, v, _ := strings.Cut(kv, "=")
		configs[k] = &v
	}
	topic := opts.get("topic", "\x00")
	resp, err := adm.CreateTopics(ctx, int32(opts.int("partitions", 1)), 1, configs, topic)
	if err != nil {
		emit(map[string]any{"error": errJSON(err)})
		return
	}
	r, err := resp.On(topic, nil)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		emit(map[string]any{"error": errJSON(err)})
		return
	}
	emit(map[string]any{"ok": true, "id": r.ID.String(), "partitions": r.NumPartitions})
}

func readRecords(topic string) []*kgo.Record {
	var out []*kgo.Record
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		p, err := strconv.Atoi(f[0])
		if err != nil {
			fail("bad partition %q", f[0])
		}
		r := &kgo.Record{Topic: topic, Partition: int32(p), Key: unb64(f[2]), Value: unb64(f[3])}
		if f[1] != "-" {
			ms, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				fail("bad timestamp %q", f[1])
			}
			r.Timestamp = time.UnixMilli(ms)
		}
		for _, h := range f[4:] {
			name, value, ok := strings.Cut(h, "=")
			if ok {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: name, Value: unb64(value)})
			} else {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: name})
			}
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		fail("stdin: %v", err)
	}
	return out
}

func produce(ctx context.Context, bootstrap string, opts options) {
	topic := opts.get("topic", "\x00")
	// No RecordDeliveryTimeout: franz-go measures it from each record's Timestamp, and the suite sets old ones.
	o := []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5 * time.Millisecond), kgo.RecordRetries(20)}
	switch opts.get("acks", "all") {
	case "all", "-1":
		o = append(o, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		o = append(o, kgo.RequiredAcks(kgo.LeaderAck()))
	case "0":
		o = append(o, kgo.RequiredAcks(kgo.NoAck()))
	default:
		fail("bad --acks")
	}
	if opts.get("idempotent", "true") == "false" {
		o = append(o, kgo.DisableIdempotentWrite())
	}
	switch opts.get("codec", "none") {
	case "none":
		o = append(o, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		o = append(o, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		o = append(o, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		o = append(o, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		o = append(o, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		fail("bad --codec")
	}
	if n := opts.get("unknown-topic-retries", ""); n != "" {
		v, _ := strconv.Atoi(n)
		o = append(o, kgo.UnknownTopicRetries(v))
	}
	cl := newClient(bootstrap, o...)
	defer cl.Close()
	records := readRecords(topic)
	results := make([]map[string]any, len(records))
	var wg sync.WaitGroup
	for i, r := range records {
		wg.Add(1)
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				results[i] = map[string]any{"error": errJSON(err)}
			} else {
				results[i] = map[string]any{"partition": r.Partition, "offset": r.Offset}
			}
		})
	}
	wg.Wait()
	emit(map[string]any{"results": results})
}

func consume(ctx context.Context, bootstrap string, opts options) {
	topic := opts.get("topic", "\x00")
	count := opts.int("count", -1)
	deadline := time.Now().Add(time.Duration(opts.int("timeout-ms", 20000)) * time.Millisecond)
	assign := map[int32]kgo.Offset{}
	for _, s := range strings.Split(opts.get("partitions", "\x00"), ",") {
		p, err := strconv.Atoi(s)
		if err != nil {
			fail("bad --partitions")
		}
		assign[int32(p)] = kgo.NewOffset().At(int64(opts.int("offset", 0)))
	}
	cl := newClient(bootstrap, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}), kgo.FetchMaxWait(500*time.Millisecond))
	defer cl.Close()
	out := []wireRecord{}
	var errs []*errorJSON
	for len(out) < count && time.Now().Before(deadline) {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fetches := cl.PollFetches(pctx)
		cancel()
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				errs = append(errs, errJSON(fe.Err))
			}
		}
		fetches.EachRecord(func(r *kgo.Record) { out = append(out, toWire(r)) })
	}
	emit(map[string]any{"records": out, "errors": errs})
}

func groupConsume(ctx context.Context, bootstrap string, opts options) {
	topic := opts.get("topic", "\x00")
	group := opts.get("group", "\x00")
	count := opts.int("count", -1)
	deadline := time.Now().Add(time.Duration(opts.int("timeout-ms", 40000)) * time.Millisecond)
	cl := newClient(bootstrap, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(time.Second),
		kgo.FetchMaxWait(500*time.Millisecond))
	defer cl.Close()
	out := []wireRecord{}
	var errs []*errorJSON
	for len(out) < count && time.Now().Before(deadline) {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fetches := cl.PollFetches(pctx)
		cancel()
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				errs = append(errs, errJSON(fe.Err))
			}
		}
		fetches.EachRecord(func(r *kgo.Record) { out = append(out, toWire(r)) })
	}
	if len(out) < count {
		emit(map[string]any{"records": out, "errors": errs, "error": &errorJSON{Class: "timeout", Message: fmt.Sprintf("received %d of %d records", len(out), count), Kafka: "NONE"}})
		return
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		emit(map[string]any{"records": out, "error": errJSON(err)})
		return
	}
	committed := map[string]int64{}
	for _, ps := range cl.CommittedOffsets() {
		for p, o := range ps {
			committed[strconv.Itoa(int(p))] = o.Offset
		}
	}
	cl.LeaveGroup()
	emit(map[string]any{"records": out, "errors": errs, "committed": committed})
}

func groupInfo(ctx context.Context, bootstrap string, opts options) {
	group := opts.get("group", "\x00")
	cl := newClient(bootstrap)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		emit(map[string]any{"error": errJSON(err)})
		return
	}
	committed := map[string]int64{}
	offsets.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			committed[strconv.Itoa(int(o.Partition))] = o.At
		}
	})
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		emit(map[string]any{"error": errJSON(err)})
		return
	}
	d := described[group]
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		emit(map[string]any{"error": errJSON(err)})
		return
	}
	groups := listed.Groups()
	sort.Strings(groups)
	emit(map[string]any{"committed": committed, "state": d.State, "members": len(d.Members), "protocolType": d.ProtocolType, "groups": groups, "error": errJSON(d.Err)})
}

// member is one group client's view of its own assignment (callbacks run on franz-go's goroutines).
type member struct {
	mu       sync.Mutex
	assigned map[int32]bool
}

func (m *member) update(ps map[string][]int32, add bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, list := range ps {
		for _, p := range list {
			if add {
				m.assigned[p] = true
			} else {
				delete(m.assigned, p)
			}
		}
	}
}

func (m *member) partitions() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []int{}
	for p := range m.assigned {
		out = append(out, int(p))
	}
	sort.Ints(out)
	return out
}

// split: each member's partitions, if every member has some and together they hold each partition once.
func split(members []*member, partitions int) [][]int {
	out := [][]int{}
	seen := map[int]bool{}
	total := 0
	for _, m := range members {
		ps := m.partitions()
		if len(ps) == 0 {
			return nil
		}
		out = append(out, ps)
		for _, p := range ps {
			seen[p] = true
		}
		total += len(ps)
	}
	if total != partitions || len(seen) != partitions {
		return nil
	}
	return out
}

// awaitSplit waits until the members' split has held for a second; nil at the deadline.
func awaitSplit(members []*member, partitions int, deadline time.Time) [][]int {
	var seen [][]int
	since := time.Now()
	for time.Now().Before(deadline) {
		now := split(members, partitions)
		if now == nil || fmt.Sprint(now) != fmt.Sprint(seen) {
			seen = now
			since = time.Now()
		} else if time.Since(since) >= time.Second {
			return now
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func views(members []*member) [][]int {
	out := [][]int{}
	for _, m := range members {
		out = append(out, m.partitions())
	}
	return out
}

func groupMembers(ctx context.Context, bootstrap string, opts options) {
	topic := opts.get("topic", "\x00")
	group := opts.get("group", "\x00")
	n := opts.int("members", 3)
	partitions := opts.int("partitions", -1)
	deadline := time.Now().Add(time.Duration(opts.int("timeout-ms", 40000)) * time.Millisecond)
	members := make([]*member, n)
	clients := make([]*kgo.Client, n)
	var wg sync.WaitGroup
	for i := range members {
		m := &member{assigned: map[int32]bool{}}
		members[i] = m
		cl := newClient(bootstrap, kgo.ClientID(fmt.Sprintf("compat-franz-member-%d", i)), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(), kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(500*time.Millisecond), kgo.FetchMaxWait(500*time.Millisecond),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { m.update(ps, true) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { m.update(ps, false) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { m.update(ps, false) }))
		clients[i] = cl
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if cl.PollFetches(ctx).IsClientClosed() {
					return
				}
			}
		}()
	}
	closed := make([]bool, n)
	defer func() {
		for i, cl := range clients {
			if !closed[i] {
				cl.Close()
			}
		}
		wg.Wait()
	}()
	timeout := func(msg string) {
		emit(map[string]any{"error": &errorJSON{Class: "timeout", Message: msg, Kafka: "NONE"}})
	}
	before := awaitSplit(members, partitions, deadline)
	if before == nil {
		timeout(fmt.Sprintf("no disjoint and complete split among %d members; assignments %v", n, views(members)))
		return
	}
	// The last member leaves (Close sends LeaveGroup); the others must take its partitions.
	clients[n-1].Close()
	closed[n-1] = true
	after := awaitSplit(members[:n-1], partitions, deadline)
	if after == nil {
		timeout(fmt.Sprintf("no disjoint and complete split among %d members after the leave; assignments %v; before %v", n-1, views(members[:n-1]), before))
		return
	}
	adm := kadm.NewClient(clients[0])
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		emit(map[string]any{"error": errJSON(err)})
		return
	}
	d := described[group]
	emit(map[string]any{"before": before, "after": after, "state": d.State, "members": len(d.Members)})
}

func configs(ctx context.Context, bootstrap string, opts options) {
	topic := opts.get("topic", "\x00")
	cl := newClient(bootstrap)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var alters []kadm.AlterConfig
	for _, kv := range opts["set"] {
		k, v, _ := strings.Cut(kv, "=")
		value := v
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &value})
	}
	if len(alters) > 0 {
		resp, err := adm.AlterTopicConfigs(ctx, alters, topic)
		if err == nil {
			var r kadm.AlterConfigsResponse
			if r, err = resp.On(topic, nil); err == nil {
				err = r.Err
			}
		}
		if err != nil {
			emit(map[string]any{"error": errJSON(err)})
			return
		}
	}
	described, err := adm.DescribeTopicConfigs(ctx, topic)
	if err == nil {
		var rc kadm.ResourceConfig
		if rc, err = described.On(topic, nil); err == nil {
			err = rc.Err
		}
		if err == nil {
			out := map[string]any{}
			for _, name := range strings.Split(opts.get("names", "\x00"), ",") {
				out[name] = nil
				for _, c := range rc.Configs {
					if c.Key == name {
						out[name] = []any{c.Value, c.Source == kmsg.ConfigSourceDefaultConfig}
					}
				}
			}
			emit(map[string]any{"configs": out})
			return
		}
	}
	emit(map[string]any{"error": errJSON(err)})
}

func createPartitions(ctx context.Context, bootstrap string, opts options) {
	topic := opts.get("topic", "\x00")
	cl := newClient(bootstrap)
	defer cl.Close()
	resp, err := kadm.NewClient(cl).UpdatePartitions(ctx, opts.int("count", -1), topic)
	if err == nil {
		var r kadm.CreatePartitionsResponse
		if r, err = resp.On(topic, nil); err == nil {
			err = r.Err
		}
	}
	if err != nil {
		emit(map[string]any{"error": errJSON(err)})
		return
	}
	emit(map[string]any{"ok": true})
}

func deleteTopic(ctx context.Context, bootstrap string, opts options) {
	topic := opts.get("topic", "\x00")
	cl := newClient(bootstrap)
	defer cl.Close()
	resp, err := kadm.NewClient(cl).DeleteTopics(ctx, topic)
	if err == nil {
		var r kadm.DeleteTopicResponse
		if r, err = resp.On(topic, nil); err == nil {
			err = r.Err
		}
	}
	if err != nil {
		emit(map[string]any{"error": errJSON(err)})
		return
	}
	emit(map[string]any{"ok": true})
}
