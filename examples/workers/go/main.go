// Command textstats is a Baton worker agent written in Go from the README's "The worker
// protocol" alone: it registers an agent card, heartbeats a replica record, pulls steps from the
// shared durable consumer textstats-agent on BATON_WORK, runs its tools, reports StepResults and
// settles each message with ack, nak-with-delay or term.
//
// Configuration (environment): NATS_URL (default nats://127.0.0.1:4222), NATS_CREDS (a .creds file
// minted for user agent-textstats; then the inbox prefix is _INBOX.agent-textstats), WORKER_CONCURRENCY (4),
// WORK_ACK_WAIT_MS (5000, only used when this worker creates the durable), STEP_TIMEOUT_MS (60000),
// STEP_MAX_ATTEMPTS (3), STEP_RETRY_INITIAL_MS (500), STEP_RETRY_MAX_MS (30000),
// SHUTDOWN_GRACE_MS (10000).
//
// Logs are JSON lines on stdout: {"level":"info","time":"…","msg":"…", …}.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	workStream         = "BATON_WORK"
	cardBucket         = "baton_agents"
	replicaBucket      = "baton_agent_replicas"
	heartbeatInterval  = 5 * time.Second
	fetchWait          = time.Second
	defaultMaxDeliver  = 5
	defaultAckPending  = 1024
	abortSubjectPrefix = "baton.control.abort."
)

// ---- logging ----------------------------------------------------------------------------------

var logMu sync.Mutex

type fields map[string]interface{}

func logLine(level, msg string, f fields) {
	line := map[string]interface{}{"level": level, "time": isoTime(time.Now()), "agent": agentName, "msg": msg}
	for k, v := range f {
		line[k] = v
	}
	data, err := json.Marshal(line)
	if err != nil {
		data = []byte(fmt.Sprintf(`{"level":"error","msg":"unloggable line: %q"}`, msg))
	}
	logMu.Lock()
	defer logMu.Unlock()
	_, _ = os.Stdout.Write(append(data, '\n'))
}

func info(msg string, f fields)  { logLine("info", msg, f) }
func warn(msg string, f fields)  { logLine("warn", msg, f) }
func fatal(msg string, f fields) { logLine("fatal", msg, f); os.Exit(1) }

// ---- configuration ----------------------------------------------------------------------------

type config struct {
	natsURL       string
	concurrency   int
	ackWait       time.Duration
	stepTimeout   time.Duration
	maxAttempts   int
	retryInitial  time.Duration
	retryMax      time.Duration
	shutdownGrace time.Duration
}

func envInt(name string, def int64) int64 {
	raw := strings.TrimSpace(os.Getenv(name))
	if raw == "" {
		return def
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		fatal("invalid configuration", fields{"variable": name, "value": raw})
	}
	return n
}

func loadConfig() config {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	c := config{
		natsURL:       url,
		concurrency:   int(envInt("WORKER_CONCURRENCY", 4)),
		ackWait:       time.Duration(envInt("WORK_ACK_WAIT_MS", 5000)) * time.Millisecond,
		stepTimeout:   time.Duration(envInt("STEP_TIMEOUT_MS", 60_000)) * time.Millisecond,
		maxAttempts:   int(envInt("STEP_MAX_ATTEMPTS", 3)),
		retryInitial:  time.Duration(envInt("STEP_RETRY_INITIAL_MS", 500)) * time.Millisecond,
		retryMax:      time.Duration(envInt("STEP_RETRY_MAX_MS", 30_000)) * time.Millisecond,
		shutdownGrace: time.Duration(envInt("SHUTDOWN_GRACE_MS", 10_000)) * time.Millisecond,
	}
	if c.concurrency < 1 {
		c.concurrency = 1
	}
	if c.maxAttempts < 1 {
		c.maxAttempts = 1
	}
	return c
}

// ---- the worker -------------------------------------------------------------------------------

// inflight is one step being run, so an abort or a shutdown can interrupt it.
type inflight struct {
	taskID string
	cancel context.CancelFunc
	reason atomic.Value // "abort" or "shutdown" once interrupted
}

type worker struct {
	cfg        config
	nc         *nats.Conn
	js         nats.JetStreamContext
	cards      nats.KeyValue
	replicas   nats.KeyValue
	sub        *nats.Subscription
	instanceID string
	replicaKey string
	host       string
	startedAt  time.Time
	ackWait    time.Duration
	maxDeliver int

	mu       sync.Mutex
	running  map[*inflight]struct{}
	inFlight int64
	steps    sync.WaitGroup
}

func newInstanceID() (string, string) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	return fmt.Sprintf("go-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(suffix)), host
}

// waitFor retries fn every second until it succeeds or stop is closed (then it returns false).
func waitFor(what string, stop <-chan struct{}, fn func() error) bool {
	logged := false
	for {
		err := fn()
		if err == nil {
			return true
		}
		if !logged {
			warn("waiting for Baton", fields{"waitingFor": what, "err": err.Error()})
			logged = true
		}
		select {
		case <-stop:
			return false
		case <-time.After(time.Second):
		}
	}
}

func (w *worker) putCard() error {
	data, err := json.Marshal(agentCard())
	if err != nil {
		return err
	}
	_, err = w.cards.Put(agentName, data)
	return err
}

func (w *worker) putReplica() error {
	record := AgentReplica{
		SchemaVersion: schemaVersion,
		Agent:         agentName,
		InstanceID:    w.instanceID,
		Version:       agentVersion,
		StartedAt:     isoTime(w.startedAt),
		HeartbeatAt:   isoTime(time.Now()),
		Concurrency:   w.cfg.concurrency,
		InFlight:      int(atomic.LoadInt64(&w.inFlight)),
		Host:          w.host,
		Pid:           os.Getpid(),
	}
	data, err := json.Marshal(record)
	if err != nil {
		return err
	}
	_, err = w.replicas.Put(w.replicaKey, data)
	return err
}

// heartbeat refreshes the replica record every 5 s and puts the card again if its key is gone.
func (w *worker) heartbeat(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(heartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		if err := w.putReplica(); err != nil {
			warn("heartbeat failed", fields{"err": err.Error()})
		}
		if _, err := w.cards.Get(agentName); errors.Is(err, nats.ErrKeyNotFound) {
			if err := w.putCard(); err != nil {
				warn("putting the card again failed", fields{"err": err.Error()})
			} else {
				info("card was gone: put it again", nil)
			}
		}
	}
}

// ensureConsumer creates the shared durable (or reuses it) and binds a pull subscription to it.
func (w *worker) ensureConsumer() error {
	durable := agentName + "-agent"
	filter := "work." + agentName + ".>"
	cfg := &nats.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filter,
		AckPolicy:     nats.AckExplicitPolicy,
		DeliverPolicy: nats.DeliverAllPolicy,
		AckWait:       w.cfg.ackWait,
		MaxDeliver:    defaultMaxDeliver,
		MaxAckPending: defaultAckPending,
	}
	ci, err := w.js.AddConsumer(workStream, cfg)
	if err != nil {
		// Another replica created it with other settings (e.g. another ack_wait): use it as it is.
		existing, infoErr := w.js.ConsumerInfo(workStream, durable)
		if infoErr != nil {
			return fmt.Errorf("creating durable %s: %v", durable, err)
		}
		info("reusing the existing durable", fields{"durable": durable, "createErr": err.Error()})
		ci = existing
	}
	w.ackWait = ci.Config.AckWait
	if w.ackWait <= 0 {
		w.ackWait = 30 * time.Second // nats-server's default
	}
	w.maxDeliver = ci.Config.MaxDeliver
	if w.maxDeliver <= 0 {
		w.maxDeliver = math.MaxInt32
	}
	sub, err := w.js.PullSubscribe(filter, durable, nats.Bind(workStream, durable))
	if err != nil {
		return fmt.Errorf("binding to durable %s: %v", durable, err)
	}
	w.sub = sub
	return nil
}

// abort interrupts the in-flight steps of a task that was cancelled or timed out.
func (w *worker) abort(taskID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for f := range w.running {
		if f.taskID == taskID {
			f.reason.Store("abort")
			f.cancel()
		}
	}
}

// interruptAll hands back what is still running at the end of the shutdown grace period.
func (w *worker) interruptAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for f := range w.running {
		f.reason.Store("shutdown")
		f.cancel()
	}
}

// ---- publishing -------------------------------------------------------------------------------

// traceHeaders copies the W3C trace context of the work message, so results and events stay in the task's trace.
func traceHeaders(work *nats.Msg) nats.Header {
	h := nats.Header{}
	for _, k := range []string{"traceparent", "tracestate"} {
		if v := work.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h
}

func (w *worker) publishResult(work *nats.Msg, result *StepResult) error {
	data, err := json.Marshal(result)
	if err != nil {
		return err
	}
	// result-<dispatchId>: only who received the work knows it, so nobody can take the id first.
	msgID := "result-" + result.DispatchID
	msg := &nats.Msg{Subject: fmt.Sprintf("results.%s.%s.%s", result.Agent, result.TaskID, result.StepID), Data: data, Header: traceHeaders(work)}
	for try := 1; ; try++ {
		_, err = w.js.PublishMsg(msg, nats.MsgId(msgID))
		if err == nil || try == 3 {
			return err
		}
		time.Sleep(time.Duration(try) * 300 * time.Millisecond)
	}
}

func (w *worker) publishEvent(work *nats.Msg, event TaskEvent) {
	event.SchemaVersion = schemaVersion
	event.At = isoTime(time.Now())
	data, err := json.Marshal(event)
	if err == nil {
		subject := fmt.Sprintf("tasks.events.%s.agent.%s", event.TaskID, agentName)
		_, err = w.js.PublishMsg(&nats.Msg{Subject: subject, Data: data, Header: traceHeaders(work)})
	}
	if err != nil {
		warn("event not published", fields{"taskId": event.TaskID, "stepId": event.StepID, "type": event.Type, "err": err.Error()})
	}
}

// ---- running a step ---------------------------------------------------------------------------

var errInterrupted = errors.New("interrupted")

// runCall runs one tool call under its timeout. It returns errInterrupted when the step's
// context was cancelled from outside (abort or shutdown).
func runCall(stepCtx context.Context, t *tool, args map[string]interface{}, call callContext) (interface{}, *BatonError, error) {
	timeout := time.Duration(t.spec.TimeoutMs) * time.Millisecond
	ctx, cancel := context.WithTimeout(stepCtx, timeout)
	defer cancel()
	type answer struct {
		out interface{}
		err *BatonError
	}
	done := make(chan answer, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- answer{nil, permanent("INTERNAL", fmt.Sprintf("tool %s panicked: %v", t.spec.Name, p))}
			}
		}()
		out, err := t.run(ctx, args, call)
		done <- answer{out, err}
	}()
	select {
	case a := <-done:
		if ctx.Err() == nil || a.err != nil {
			return a.out, a.err, nil
		}
	case <-ctx.Done():
	}
	if errors.Is(stepCtx.Err(), context.Canceled) {
		return nil, nil, errInterrupted
	}
	return nil, retryable("TOOL_TIMEOUT", fmt.Sprintf("%s timed out", t.spec.Name)), nil
}

// runStep runs the step's tool calls in order and fills the result; the step's output is the
// last call's output, and the first failure stops it.
func (w *worker) runStep(ctx context.Context, work *StepWork, delivery int, result *StepResult) error {
	if len(work.ToolCalls) == 0 {
		result.Error = permanent("LLM_UNAVAILABLE", "the textstats agent runs no LLM loop: its steps need explicit toolCalls")
		return nil
	}
	timeout := w.cfg.stepTimeout
	if work.TimeoutMs > 0 {
		timeout = time.Duration(work.TimeoutMs) * time.Millisecond
	}
	stepCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for i, call := range work.ToolCalls {
		args := call.Args
		if len(args) == 0 || string(args) == "null" {
			args = json.RawMessage("{}")
		}
		entry := ToolCallResult{Tool: call.Tool, Args: args}
		started := time.Now()
		var out interface{}
		var failure *BatonError
		if t := findTool(call.Tool); t == nil {
			failure = permanent("UNKNOWN_TOOL", fmt.Sprintf("agent %q has no tool %q; its tools: %s", agentName, call.Tool, toolNames()),
				Issue{Path: fmt.Sprintf("toolCalls.%d.tool", i), Message: "unknown tool"})
		} else if decoded, err := decodeArgs(args); err != nil {
			failure = err
		} else {
			var interrupted error
			out, failure, interrupted = runCall(stepCtx, t, decoded, callContext{work: work, delivery: delivery})
			if interrupted != nil {
				return interrupted
			}
		}
		entry.DurationMs = millis(time.Since(started))
		result.Usage.ToolCalls++
		if failure != nil {
			entry.Error = failure
			result.ToolCalls = append(result.ToolCalls, entry)
			result.Error = failure
			return nil
		}
		entry.OK = true
		entry.Output = out
		result.ToolCalls = append(result.ToolCalls, entry)
		result.Output = out
	}
	return nil
}

// retryDelay is exponential backoff with full jitter: random in [0, min(max, initial·2^(delivery-1))].
func retryDelay(delivery int, initial, max time.Duration) time.Duration {
	ceiling := float64(initial) * math.Pow(2, float64(delivery-1))
	if ceiling > float64(max) {
		ceiling = float64(max)
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(mrand.Int63n(int64(ceiling) + 1))
}

// settle logs how a work message was settled.
func settled(work *StepWork, delivery int, action string, f fields) {
	line := fields{"taskId": work.TaskID, "stepId": work.StepID, "attempt": work.Attempt, "delivery": delivery, "action": action}
	for k, v := range f {
		line[k] = v
	}
	info("step settled", line)
}

// rejectUndecodable answers a work message whose body is not a StepWork: a failed result when
// the task and step can be told from the subject, the attempt from the Nats-Msg-Id and the
// dispatch id from the body, then term.
func (w *worker) rejectUndecodable(msg *nats.Msg, reason string) {
	tokens := strings.Split(msg.Subject, ".")
	msgID := msg.Header.Get("Nats-Msg-Id")
	attempt := 0
	if i := strings.LastIndex(msgID, "-"); i >= 0 {
		attempt, _ = strconv.Atoi(msgID[i+1:])
	}
	var partial struct {
		DispatchID string `json:"dispatchId"`
	}
	_ = json.Unmarshal(msg.Data, &partial)
	warn("undecodable work", fields{"subject": msg.Subject, "err": reason})
	if len(tokens) == 4 && attempt > 0 && partial.DispatchID != "" {
		now := isoTime(time.Now())
		result := &StepResult{
			SchemaVersion: schemaVersion, Kind: "step", TaskID: tokens[2], StepID: tokens[3], Agent: agentName, DispatchID: partial.DispatchID,
			Status: "failed", ToolCalls: []ToolCallResult{}, Attempt: attempt, Worker: w.instanceID,
			Error:     permanent("VALIDATION_FAILED", "work message is not a valid StepWork: "+reason),
			StartedAt: now, FinishedAt: now,
		}
		if err := w.publishResult(msg, result); err != nil {
			warn("result not published", fields{"subject": msg.Subject, "err": err.Error()})
		}
	}
	_ = msg.Term()
}

func (w *worker) handle(root context.Context, msg *nats.Msg) {
	delivery := 1
	if meta, err := msg.Metadata(); err == nil {
		delivery = int(meta.NumDelivered)
	}
	var work StepWork
	if err := json.Unmarshal(msg.Data, &work); err != nil {
		w.rejectUndecodable(msg, err.Error())
		return
	}
	if work.SchemaVersion != schemaVersion || work.TaskID == "" || work.StepID == "" || work.Attempt < 1 {
		w.rejectUndecodable(msg, fmt.Sprintf("schemaVersion %d, taskId %q, stepId %q, attempt %d", work.SchemaVersion, work.TaskID, work.StepID, work.Attempt))
		return
	}
	if work.Kind == "" {
		work.Kind = "step"
	}
	toolList := make([]string, len(work.ToolCalls))
	for i, c := range work.ToolCalls {
		toolList[i] = c.Tool
	}
	info("step received", fields{"taskId": work.TaskID, "stepId": work.StepID, "kind": work.Kind, "attempt": work.Attempt,
		"delivery": delivery, "tools": toolList})

	ctx, cancel := context.WithCancel(root)
	defer cancel()
	f := &inflight{taskID: work.TaskID, cancel: cancel}
	w.mu.Lock()
	w.running[f] = struct{}{}
	w.mu.Unlock()
	atomic.AddInt64(&w.inFlight, 1)
	defer func() {
		w.mu.Lock()
		delete(w.running, f)
		w.mu.Unlock()
		atomic.AddInt64(&w.inFlight, -1)
	}()

	// Keep the lease: +WPI now and every ack_wait / 3 until the step is settled.
	leaseDone := make(chan struct{})
	defer close(leaseDone)
	_ = msg.InProgress()
	go func() {
		ticker := time.NewTicker(w.ackWait / 3)
		defer ticker.Stop()
		for {
			select {
			case <-leaseDone:
				return
			case <-ticker.C:
				if err := msg.InProgress(); err != nil {
					warn("working() failed", fields{"taskId": work.TaskID, "stepId": work.StepID, "err": err.Error()})
				}
			}
		}
	}()

	worker, attempt := w.instanceID, work.Attempt
	w.publishEvent(msg, TaskEvent{Type: "step.started", TaskID: work.TaskID, StepID: work.StepID, Agent: agentName, Worker: &worker, Attempt: &attempt})

	started := time.Now()
	result := &StepResult{
		SchemaVersion: schemaVersion, Kind: work.Kind, TaskID: work.TaskID, StepID: work.StepID, Agent: agentName,
		DispatchID: work.DispatchID, Attempt: work.Attempt, Worker: w.instanceID, ToolCalls: []ToolCallResult{}, StartedAt: isoTime(started),
	}
	if err := w.runStep(ctx, &work, delivery, result); err != nil {
		reason, _ := f.reason.Load().(string)
		if reason == "abort" {
			// The task was cancelled or timed out: report nothing, ack.
			_ = msg.Ack()
			settled(&work, delivery, "ack", fields{"aborted": true})
			info("step aborted", fields{"taskId": work.TaskID, "stepId": work.StepID})
			return
		}
		_ = msg.Nak()
		settled(&work, delivery, "nak", fields{"handedBack": true})
		return
	}
	finished := time.Now()
	result.FinishedAt = isoTime(finished)
	result.DurationMs = millis(finished.Sub(started))

	if result.Error == nil {
		result.Status = "completed"
		if err := w.publishResult(msg, result); err != nil {
			warn("result not published: handing the step back", fields{"taskId": work.TaskID, "stepId": work.StepID, "err": err.Error()})
			_ = msg.NakWithDelay(time.Second)
			settled(&work, delivery, "nak", fields{"publishFailed": true})
			return
		}
		_ = msg.Ack()
		settled(&work, delivery, "ack", fields{"status": "completed"})
		// step.completed is the supervisor's to announce, as it records the result.
		return
	}

	failure := result.Error
	maxDeliveries := w.cfg.maxAttempts
	if work.Retry != nil && work.Retry.MaxAttempts != nil {
		maxDeliveries = *work.Retry.MaxAttempts
	}
	if maxDeliveries > w.maxDeliver {
		maxDeliveries = w.maxDeliver
	}
	if failure.Retryable && delivery < maxDeliveries {
		initial, max := w.cfg.retryInitial, w.cfg.retryMax
		if work.Retry != nil && work.Retry.InitialDelayMs != nil {
			initial = time.Duration(*work.Retry.InitialDelayMs) * time.Millisecond
		}
		if work.Retry != nil && work.Retry.MaxDelayMs != nil {
			max = time.Duration(*work.Retry.MaxDelayMs) * time.Millisecond
		}
		delay := retryDelay(delivery, initial, max)
		delayMs := delay.Milliseconds()
		d := delivery
		w.publishEvent(msg, TaskEvent{Type: "step.retrying", TaskID: work.TaskID, StepID: work.StepID, Agent: agentName, Delivery: &d, DelayMs: &delayMs, Error: failure})
		_ = msg.NakWithDelay(delay)
		settled(&work, delivery, "nak", fields{"code": failure.Code, "delayMs": delayMs})
		return
	}

	result.Status = "failed"
	if err := w.publishResult(msg, result); err != nil {
		warn("result not published: handing the step back", fields{"taskId": work.TaskID, "stepId": work.StepID, "err": err.Error()})
		_ = msg.NakWithDelay(time.Second)
		settled(&work, delivery, "nak", fields{"publishFailed": true})
		return
	}
	action := "term"
	if failure.Retryable {
		action = "ack" // the last attempt of a retryable failure: reported, then acked
		_ = msg.Ack()
	} else {
		_ = msg.Term()
	}
	settled(&work, delivery, action, fields{"status": "failed", "code": failure.Code})
	// step.failed is the supervisor's to announce, as it records the result.
}

// consume pulls one message per free slot until stop is closed.
func (w *worker) consume(root context.Context, stop <-chan struct{}) {
	slots := make(chan struct{}, w.cfg.concurrency)
	for {
		select {
		case <-stop:
			return
		case slots <- struct{}{}:
		}
		var msgs []*nats.Msg
		for len(msgs) == 0 {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			msgs, err = w.sub.Fetch(1, nats.MaxWait(fetchWait))
			if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
				warn("fetch failed", fields{"err": err.Error()})
				time.Sleep(500 * time.Millisecond)
			}
		}
		for _, m := range msgs {
			w.steps.Add(1)
			go func(m *nats.Msg) {
				defer func() { <-slots; w.steps.Done() }()
				w.handle(root, m)
			}(m)
		}
	}
}

func main() {
	cfg := loadConfig()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	stop := make(chan struct{})
	go func() {
		s := <-signals
		info("stopping", fields{"signal": s.String()})
		close(stop)
	}()

	instanceID, host := newInstanceID()
	w := &worker{
		cfg: cfg, instanceID: instanceID, replicaKey: agentName + "." + kvKeyPart(instanceID), host: host,
		startedAt: time.Now(), running: map[*inflight]struct{}{},
	}
	closed := make(chan struct{})
	var auth []nats.Option
	if creds := os.Getenv("NATS_CREDS"); creds != "" {
		user, err := credsUser(creds)
		if err != nil {
			fatal("unusable NATS_CREDS", fields{"err": err.Error()})
		}
		// Replies and deliveries go to the user's own inbox prefix, the only one it may subscribe to.
		auth = append(auth, nats.UserCredentials(creds), nats.CustomInboxPrefix("_INBOX."+user))
	}
	nc, err := nats.Connect(cfg.natsURL, append(auth,
		nats.Name("textstats-go "+instanceID),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				warn("disconnected from NATS", fields{"err": err.Error()})
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { info("reconnected to NATS", fields{"url": c.ConnectedUrl()}) }),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	)...)
	if err != nil {
		fatal("cannot connect to NATS", fields{"url": cfg.natsURL, "err": err.Error()})
	}
	w.nc = nc
	if w.js, err = nc.JetStream(); err != nil {
		fatal("no JetStream context", fields{"err": err.Error()})
	}

	// A running Baton has provisioned the stream and the buckets: wait for them rather than create them.
	ok := waitFor("stream "+workStream, stop, func() error { _, err := w.js.StreamInfo(workStream); return err }) &&
		waitFor("bucket "+cardBucket, stop, func() error { var err error; w.cards, err = w.js.KeyValue(cardBucket); return err }) &&
		waitFor("bucket "+replicaBucket, stop, func() error { var err error; w.replicas, err = w.js.KeyValue(replicaBucket); return err }) &&
		waitFor("the card", stop, w.putCard) &&
		waitFor("the replica record", stop, w.putReplica) &&
		waitFor("the durable consumer", stop, w.ensureConsumer)
	if !ok {
		nc.Close()
		return
	}
	heartbeatStop, heartbeatDone := make(chan struct{}), make(chan struct{})
	go w.heartbeat(heartbeatStop, heartbeatDone)

	abortSub, err := nc.Subscribe(abortSubjectPrefix+"*", func(m *nats.Msg) {
		taskID := strings.TrimPrefix(m.Subject, abortSubjectPrefix)
		w.abort(taskID)
	})
	if err != nil {
		fatal("cannot subscribe to aborts", fields{"err": err.Error()})
	}

	root, cancelRoot := context.WithCancel(context.Background())
	defer cancelRoot()
	consumed := make(chan struct{})
	go func() { defer close(consumed); w.consume(root, stop) }()
	info("worker ready", fields{"instanceId": instanceID, "durable": agentName + "-agent", "concurrency": cfg.concurrency,
		"ackWaitMs": w.ackWait.Milliseconds(), "maxDeliver": w.maxDeliver, "tools": toolNames()})

	<-stop
	// Stop heartbeating and delete the replica record at once; then stop pulling, let in-flight
	// steps finish for the grace period, hand back what is left with nak, and drain.
	close(heartbeatStop)
	<-heartbeatDone
	if err := w.replicas.Delete(w.replicaKey); err != nil {
		warn("replica record not deleted", fields{"err": err.Error()})
	}
	<-consumed
	finished := make(chan struct{})
	go func() { w.steps.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(cfg.shutdownGrace):
		warn("grace period over: handing back in-flight steps", fields{"inFlight": atomic.LoadInt64(&w.inFlight)})
		w.interruptAll()
		<-finished
	}
	_ = abortSub.Unsubscribe()
	if err := nc.Drain(); err == nil {
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
		}
	}
	info("stopped", nil)
}

// credsUser reads the user name out of a NATS .creds file: the "name" claim of its user JWT.
func credsUser(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	text := string(data)
	start := strings.Index(text, "-----BEGIN NATS USER JWT-----")
	end := strings.Index(text, "------END NATS USER JWT------")
	if start < 0 || end < start {
		return "", fmt.Errorf("%s holds no user JWT", path)
	}
	parts := strings.Split(strings.TrimSpace(text[start+len("-----BEGIN NATS USER JWT-----"):end]), ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("%s: malformed user JWT", path)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Name == "" {
		return "", fmt.Errorf("%s: the user JWT has no name", path)
	}
	return claims.Name, nil
}
