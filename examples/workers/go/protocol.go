package main

// The Baton wire messages this worker reads and writes, after the JSON Schemas in
// contracts/json-schema/ (step-work.json, step-result.json, agent-card.json,
// agent-replica.json, task-event.json). Durations on the wire are milliseconds.

import (
	"encoding/json"
	"regexp"
	"time"
)

const schemaVersion = 1

// StepWork is the body of a work message on work.<agent>.<taskId>.<stepId>.
type StepWork struct {
	SchemaVersion int                        `json:"schemaVersion"`
	Kind          string                     `json:"kind"`
	TaskID        string                     `json:"taskId"`
	StepID        string                     `json:"stepId"`
	Agent         string                     `json:"agent"`
	DispatchID    string                     `json:"dispatchId"`
	Goal          string                     `json:"goal"`
	Instruction   string                     `json:"instruction"`
	ToolCalls     []ToolCall                 `json:"toolCalls"`
	Inputs        map[string]json.RawMessage `json:"inputs"`
	Attempt       int                        `json:"attempt"`
	TimeoutMs     int64                      `json:"timeoutMs,omitempty"`
	Retry         *RetryPolicy               `json:"retry,omitempty"`
	DispatchedAt  string                     `json:"dispatchedAt"`
}

// ToolCall is one call of a step; its $fromStep references are already resolved.
type ToolCall struct {
	Tool string          `json:"tool"`
	Args json.RawMessage `json:"args"`
}

// RetryPolicy is the step's plan-level retry policy (all fields optional).
type RetryPolicy struct {
	MaxAttempts    *int   `json:"maxAttempts,omitempty"`
	InitialDelayMs *int64 `json:"initialDelayMs,omitempty"`
	MaxDelayMs     *int64 `json:"maxDelayMs,omitempty"`
}

// Issue is one field-level problem, e.g. {"path": "args.text", "message": "…"}.
type Issue struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// BatonError is the error object of results and events: a stable code from the README's list.
type BatonError struct {
	Code      string  `json:"code"`
	Message   string  `json:"message"`
	Retryable bool    `json:"retryable"`
	Issues    []Issue `json:"issues,omitempty"`
}

func (e *BatonError) Error() string { return e.Code + ": " + e.Message }

func permanent(code, message string, issues ...Issue) *BatonError {
	return &BatonError{Code: code, Message: message, Retryable: false, Issues: issues}
}

func retryable(code, message string) *BatonError {
	return &BatonError{Code: code, Message: message, Retryable: true}
}

// Usage is always reported in full (task-event.json's step.completed requires all four fields).
type Usage struct {
	ToolCalls    int     `json:"toolCalls"`
	InputTokens  int     `json:"inputTokens"`
	OutputTokens int     `json:"outputTokens"`
	CostUsd      float64 `json:"costUsd"`
}

// ToolCallResult is one entry of StepResult.toolCalls: ok with output, or not ok with error.
type ToolCallResult struct {
	Tool       string          `json:"tool"`
	Args       json.RawMessage `json:"args"`
	OK         bool            `json:"ok"`
	Output     interface{}     `json:"output,omitempty"`
	Error      *BatonError     `json:"error,omitempty"`
	DurationMs float64         `json:"durationMs"`
}

// StepResult is published on results.<agent>.<taskId>.<stepId> (stream BATON_RESULTS).
type StepResult struct {
	SchemaVersion int              `json:"schemaVersion"`
	Kind          string           `json:"kind"`
	TaskID        string           `json:"taskId"`
	StepID        string           `json:"stepId"`
	Agent         string           `json:"agent"`
	DispatchID    string           `json:"dispatchId"`
	Status        string           `json:"status"`
	Output        interface{}      `json:"output,omitempty"`
	ToolCalls     []ToolCallResult `json:"toolCalls"`
	Error         *BatonError      `json:"error,omitempty"`
	Attempt       int              `json:"attempt"`
	Worker        string           `json:"worker"`
	StartedAt     string           `json:"startedAt"`
	FinishedAt    string           `json:"finishedAt"`
	DurationMs    float64          `json:"durationMs"`
	Usage         Usage            `json:"usage"`
}

// ToolSpec is one tool of the agent card.
type ToolSpec struct {
	Name        string                 `json:"name"`
	Description string                 `json:"description"`
	InputSchema map[string]interface{} `json:"inputSchema"`
	RiskTier    string                 `json:"riskTier"`
	Idempotent  bool                   `json:"idempotent"`
	TimeoutMs   int64                  `json:"timeoutMs"`
}

// AgentCard is put in KV bucket baton_agents under the agent's name.
type AgentCard struct {
	SchemaVersion int        `json:"schemaVersion"`
	Agent         string     `json:"agent"`
	Version       string     `json:"version"`
	Description   string     `json:"description"`
	Tools         []ToolSpec `json:"tools"`
	LLM           bool       `json:"llm"`
	UpdatedAt     string     `json:"updatedAt"`
}

// AgentReplica is put in KV bucket baton_agent_replicas under <agent>.<instanceId> every 5 s.
type AgentReplica struct {
	SchemaVersion int    `json:"schemaVersion"`
	Agent         string `json:"agent"`
	InstanceID    string `json:"instanceId"`
	Version       string `json:"version"`
	StartedAt     string `json:"startedAt"`
	HeartbeatAt   string `json:"heartbeatAt"`
	Concurrency   int    `json:"concurrency"`
	InFlight      int    `json:"inFlight"`
	Host          string `json:"host,omitempty"`
	Pid           int    `json:"pid,omitempty"`
}

// TaskEvent is the subset of task-event.json's variants a worker emits: step.started,
// step.completed, step.retrying, step.failed. Each variant has additionalProperties: false,
// so only the fields of the variant are set (the pointers keep the others out).
type TaskEvent struct {
	SchemaVersion int         `json:"schemaVersion"`
	TaskID        string      `json:"taskId"`
	At            string      `json:"at"`
	Type          string      `json:"type"`
	StepID        string      `json:"stepId"`
	Agent         string      `json:"agent"`
	Worker        *string     `json:"worker,omitempty"`
	Attempt       *int        `json:"attempt,omitempty"`
	DurationMs    *float64    `json:"durationMs,omitempty"`
	Usage         *Usage      `json:"usage,omitempty"`
	Delivery      *int        `json:"delivery,omitempty"`
	DelayMs       *int64      `json:"delayMs,omitempty"`
	Error         *BatonError `json:"error,omitempty"`
}

// isoTime formats a time as the contracts want it: ISO 8601, UTC, "Z".
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

var keyUnsafe = regexp.MustCompile(`[^A-Za-z0-9_=-]`)

// kvKeyPart replaces the characters a KV key token may not hold, as the README asks for instance ids.
func kvKeyPart(s string) string { return keyUnsafe.ReplaceAllString(s, "_") }
