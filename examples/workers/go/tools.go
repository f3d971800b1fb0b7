package main

// The textstats agent's tools: word_stats and sha256 over real input text, and flaky, a test
// tool that fails with a retryable error on its first deliveries.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	agentName    = "textstats"
	agentVersion = "1.0.0"
	maxTextBytes = 4 << 20 // 4 MiB: larger texts are refused as invalid arguments
)

// callContext is what a tool may know about its delivery besides its arguments.
type callContext struct {
	work     *StepWork
	delivery int // the work message's delivery count (1 on the first delivery)
}

type toolFunc func(ctx context.Context, args map[string]interface{}, call callContext) (interface{}, *BatonError)

type tool struct {
	spec ToolSpec
	run  toolFunc
}

var textSchema = map[string]interface{}{
	"type": "object",
	"properties": map[string]interface{}{
		"text": map[string]interface{}{"type": "string", "description": "The text to analyse (UTF-8)."},
	},
	"required":             []string{"text"},
	"additionalProperties": false,
}

var tools = []tool{
	{
		spec: ToolSpec{
			Name: "word_stats",
			Description: "Counts the characters (Unicode code points), words, sentences and lines of a text and " +
				"lists its 5 most frequent words. A word is a run of letters or digits, apostrophes allowed inside " +
				"(don't); words are compared lower-cased. A sentence ends at a run of . ! or ? followed by white " +
				"space or the end of the text (a trailing fragment with a word counts as one more). Lines are " +
				"counted like wc -l, plus a last line without a newline. Output: { characters, words, sentences, " +
				"lines, topWords: [{ word, count }] } (ties broken alphabetically).",
			InputSchema: textSchema,
			RiskTier:    "compute",
			Idempotent:  true,
			TimeoutMs:   10_000,
		},
		run: wordStatsTool,
	},
	{
		spec: ToolSpec{
			Name:        "sha256",
			Description: "SHA-256 digest of a text's UTF-8 bytes. Output: { sha256: <64 hex digits>, bytes: <UTF-8 length> }.",
			InputSchema: textSchema,
			RiskTier:    "compute",
			Idempotent:  true,
			TimeoutMs:   10_000,
		},
		run: sha256Tool,
	},
	{
		spec: ToolSpec{
			Name: "flaky",
			Description: "A test tool for retries: fails with a retryable error (TOOL_FAILED) while the work " +
				"message's delivery count is at most failTimes, then succeeds. With holdMs it works that long " +
				"before answering (to exercise lease heartbeats and cancellation). Output: { delivery, failTimes, heldMs }.",
			InputSchema: map[string]interface{}{
				"type": "object",
				"properties": map[string]interface{}{
					"failTimes": map[string]interface{}{"type": "integer", "minimum": 0, "maximum": 10},
					"holdMs":    map[string]interface{}{"type": "integer", "minimum": 0, "maximum": 600_000},
				},
				"required":             []string{"failTimes"},
				"additionalProperties": false,
			},
			RiskTier:   "compute",
			Idempotent: true,
			TimeoutMs:  600_000,
		},
		run: flakyTool,
	},
}

func findTool(name string) *tool {
	for i := range tools {
		if tools[i].spec.Name == name {
			return &tools[i]
		}
	}
	return nil
}

func toolNames() string {
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.spec.Name
	}
	return strings.Join(names, ", ")
}

func agentCard() AgentCard {
	specs := make([]ToolSpec, len(tools))
	for i, t := range tools {
		specs[i] = t.spec
	}
	return AgentCard{
		SchemaVersion: schemaVersion,
		Agent:         agentName,
		Version:       agentVersion,
		Description: "Text statistics in Go, with no LLM (every step needs explicit toolCalls). word_stats counts " +
			"the characters, words, sentences and lines of a text and names its most frequent words; sha256 " +
			"fingerprints a text. Feed it text from another step with $fromStep.",
		Tools:     specs,
		LLM:       false,
		UpdatedAt: isoTime(time.Now()),
	}
}

// decodeArgs parses a tool call's arguments as a JSON object (numbers kept exact).
func decodeArgs(raw json.RawMessage) (map[string]interface{}, *BatonError) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return map[string]interface{}{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var args map[string]interface{}
	if err := dec.Decode(&args); err != nil || args == nil {
		return nil, permanent("INVALID_ARGUMENTS", "arguments must be a JSON object", Issue{Path: "args", Message: "expected an object"})
	}
	return args, nil
}

func jsonType(v interface{}) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []interface{}:
		return "array"
	default:
		return "object"
	}
}

// unknownArgs reports arguments the tool's schema does not allow (additionalProperties: false).
func unknownArgs(args map[string]interface{}, allowed ...string) []Issue {
	var issues []Issue
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			issues = append(issues, Issue{Path: "args." + k, Message: "unknown argument"})
		}
	}
	return issues
}

func invalid(issues []Issue) *BatonError {
	parts := make([]string, len(issues))
	for i, is := range issues {
		parts[i] = is.Path + ": " + is.Message
	}
	return permanent("INVALID_ARGUMENTS", "invalid arguments: "+strings.Join(parts, "; "), issues...)
}

// textArg validates { "text": string } and returns the text.
func textArg(args map[string]interface{}) (string, *BatonError) {
	issues := unknownArgs(args, "text")
	raw, present := args["text"]
	text, isString := raw.(string)
	switch {
	case !present:
		issues = append([]Issue{{Path: "args.text", Message: "required"}}, issues...)
	case !isString:
		issues = append([]Issue{{Path: "args.text", Message: "expected string, received " + jsonType(raw)}}, issues...)
	case len(text) > maxTextBytes:
		issues = append([]Issue{{Path: "args.text", Message: fmt.Sprintf("longer than %d bytes", maxTextBytes)}}, issues...)
	}
	if len(issues) > 0 {
		return "", invalid(issues)
	}
	return text, nil
}

// intArg validates an optional integer argument within [min, max].
func intArg(args map[string]interface{}, name string, required bool, min, max int64, issues *[]Issue) int64 {
	raw, present := args[name]
	if !present {
		if required {
			*issues = append(*issues, Issue{Path: "args." + name, Message: "required"})
		}
		return 0
	}
	num, ok := raw.(json.Number)
	if !ok {
		*issues = append(*issues, Issue{Path: "args." + name, Message: "expected integer, received " + jsonType(raw)})
		return 0
	}
	n, err := num.Int64()
	if err != nil {
		*issues = append(*issues, Issue{Path: "args." + name, Message: "expected integer, received " + num.String()})
		return 0
	}
	if n < min || n > max {
		*issues = append(*issues, Issue{Path: "args." + name, Message: fmt.Sprintf("must be between %d and %d", min, max)})
	}
	return n
}

type wordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

type wordStats struct {
	Characters int         `json:"characters"`
	Words      int         `json:"words"`
	Sentences  int         `json:"sentences"`
	Lines      int         `json:"lines"`
	TopWords   []wordCount `json:"topWords"`
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

func isTerminator(r rune) bool { return r == '.' || r == '!' || r == '?' }

func computeWordStats(text string) wordStats {
	runes := []rune(text)
	stats := wordStats{Characters: utf8.RuneCountInString(text), TopWords: []wordCount{}}
	counts := map[string]int{}
	pendingSentence := false
	for i := 0; i < len(runes); {
		r := runes[i]
		switch {
		case isWordRune(r):
			j := i
			for j < len(runes) {
				if isWordRune(runes[j]) {
					j++
				} else if (runes[j] == '\'' || runes[j] == '’') && j+1 < len(runes) && isWordRune(runes[j+1]) {
					j += 2
				} else {
					break
				}
			}
			stats.Words++
			counts[strings.ToLower(string(runes[i:j]))]++
			pendingSentence = true
			i = j
		case isTerminator(r):
			j := i
			for j < len(runes) && isTerminator(runes[j]) {
				j++
			}
			if j == len(runes) || unicode.IsSpace(runes[j]) {
				stats.Sentences++
				pendingSentence = false
			}
			i = j
		default:
			i++
		}
	}
	if pendingSentence {
		stats.Sentences++
	}
	if text != "" {
		stats.Lines = strings.Count(text, "\n")
		if !strings.HasSuffix(text, "\n") {
			stats.Lines++
		}
	}
	all := make([]wordCount, 0, len(counts))
	for w, c := range counts {
		all = append(all, wordCount{Word: w, Count: c})
	}
	sort.Slice(all, func(a, b int) bool {
		if all[a].Count != all[b].Count {
			return all[a].Count > all[b].Count
		}
		return all[a].Word < all[b].Word
	})
	if len(all) > 5 {
		all = all[:5]
	}
	stats.TopWords = append(stats.TopWords, all...)
	return stats
}

func wordStatsTool(_ context.Context, args map[string]interface{}, _ callContext) (interface{}, *BatonError) {
	text, err := textArg(args)
	if err != nil {
		return nil, err
	}
	return computeWordStats(text), nil
}

func sha256Tool(_ context.Context, args map[string]interface{}, _ callContext) (interface{}, *BatonError) {
	text, err := textArg(args)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(text))
	return map[string]interface{}{"sha256": hex.EncodeToString(sum[:]), "bytes": len(text)}, nil
}

func flakyTool(ctx context.Context, args map[string]interface{}, call callContext) (interface{}, *BatonError) {
	issues := unknownArgs(args, "failTimes", "holdMs")
	failTimes := intArg(args, "failTimes", true, 0, 10, &issues)
	holdMs := intArg(args, "holdMs", false, 0, 600_000, &issues)
	if len(issues) > 0 {
		return nil, invalid(issues)
	}
	if int64(call.delivery) <= failTimes {
		return nil, retryable("TOOL_FAILED", fmt.Sprintf("flaky: failing on purpose on delivery %d (failTimes %d)", call.delivery, failTimes))
	}
	if holdMs > 0 {
		select {
		case <-time.After(time.Duration(holdMs) * time.Millisecond):
		case <-ctx.Done():
			return nil, nil // the caller knows why (timeout, abort or shutdown)
		}
	}
	return map[string]interface{}{"delivery": call.delivery, "failTimes": failTimes, "heldMs": holdMs}, nil
}
