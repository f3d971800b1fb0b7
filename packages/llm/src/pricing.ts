import { ConfigError } from "@baton/core";
import { z } from "zod";
import type { TokenUsage } from "./types.ts";

/**
 * The price of one model, in USD per million tokens (MTok).
 * - `inputPerMTok`: uncached input tokens. `outputPerMTok`: output tokens.
 * - `cacheReadMultiplier`: price of a cache-read input token as a multiple of `inputPerMTok`
 *   (Anthropic 0.1; OpenAI "cached input" 0.1–0.5 by model). Default 1.
 * - `cacheWriteMultiplier`: price of a cache-write input token as a multiple of `inputPerMTok`
 *   (Anthropic 1.25 for the 5-minute `ephemeral` cache; OpenAI does not charge writes). Default 1.
 */
export const ModelPrice = z
  .object({
    inputPerMTok: z.number().nonnegative(),
    outputPerMTok: z.number().nonnegative(),
    cacheReadMultiplier: z.number().nonnegative().optional(),
    cacheWriteMultiplier: z.number().nonnegative().optional(),
  })
  .strict();
export type ModelPrice = z.infer<typeof ModelPrice>;

/** Model id (or id prefix) → price. Keys match model ids by prefix: see {@link findPrice}. */
export const PriceTable = z.record(z.string().min(1), ModelPrice);
export type PriceTable = Readonly<Record<string, ModelPrice>>;

const ANTHROPIC_CACHE = { cacheReadMultiplier: 0.1, cacheWriteMultiplier: 1.25 } as const;

/**
 * Default prices (USD per MTok, standard tier, non-batch) from the providers' public price lists.
 * Only models with a published price are listed; anything else is unpriced (cost 0,
 * `priced: false`) until `LLM_PRICES_JSON` gives it a price. Long-context surcharges, batch and
 * priority tiers are not modelled.
 */
export const DEFAULT_PRICES: PriceTable = {
  // Anthropic: cache reads 0.1× input, 5-minute cache writes 1.25× input.
  "claude-opus-4-6": { inputPerMTok: 5, outputPerMTok: 25, ...ANTHROPIC_CACHE },
  "claude-opus-4-5": { inputPerMTok: 5, outputPerMTok: 25, ...ANTHROPIC_CACHE },
  "claude-opus-4-1": { inputPerMTok: 15, outputPerMTok: 75, ...ANTHROPIC_CACHE },
  "claude-opus-4-20250514": { inputPerMTok: 15, outputPerMTok: 75, ...ANTHROPIC_CACHE },
  "claude-sonnet-4-6": { inputPerMTok: 3, outputPerMTok: 15, ...ANTHROPIC_CACHE },
  "claude-sonnet-4-5": { inputPerMTok: 3, outputPerMTok: 15, ...ANTHROPIC_CACHE },
  "claude-sonnet-4-20250514": { inputPerMTok: 3, outputPerMTok: 15, ...ANTHROPIC_CACHE },
  "claude-haiku-4-5": { inputPerMTok: 1, outputPerMTok: 5, ...ANTHROPIC_CACHE },
  "claude-3-5-haiku": { inputPerMTok: 0.8, outputPerMTok: 4, ...ANTHROPIC_CACHE },
  // OpenAI: "cached input" is a discount on input; no charge for cache writes.
  "gpt-5": { inputPerMTok: 1.25, outputPerMTok: 10, cacheReadMultiplier: 0.1 },
  "gpt-5-mini": { inputPerMTok: 0.25, outputPerMTok: 2, cacheReadMultiplier: 0.1 },
  "gpt-5-nano": { inputPerMTok: 0.05, outputPerMTok: 0.4, cacheReadMultiplier: 0.1 },
  "gpt-5-pro": { inputPerMTok: 15, outputPerMTok: 120, cacheReadMultiplier: 1 },
  "gpt-4.1": { inputPerMTok: 2, outputPerMTok: 8, cacheReadMultiplier: 0.25 },
  "gpt-4.1-mini": { inputPerMTok: 0.4, outputPerMTok: 1.6, cacheReadMultiplier: 0.25 },
  "gpt-4.1-nano": { inputPerMTok: 0.1, outputPerMTok: 0.4, cacheReadMultiplier: 0.25 },
  "gpt-4o": { inputPerMTok: 2.5, outputPerMTok: 10, cacheReadMultiplier: 0.5 },
  "gpt-4o-mini": { inputPerMTok: 0.15, outputPerMTok: 0.6, cacheReadMultiplier: 0.5 },
};

/**
 * Parses `LLM_PRICES_JSON` (`{"model-id": {"inputPerMTok": 3, "outputPerMTok": 15}}`).
 * @throws ConfigError naming the bad entry.
 */
export function parsePricesJson(json: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new ConfigError(`LLM_PRICES_JSON is not JSON: ${(error as Error).message}`);
  }
  const parsed = PriceTable.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new ConfigError(`LLM_PRICES_JSON is not a price table ({"model": {"inputPerMTok": n, "outputPerMTok": n}}): ${detail}`);
  }
  return parsed.data;
}

/**
 * The default table with `overrides` applied. An override of a listed model keeps the default
 * cache multipliers it does not set; a new model's missing multipliers are 1.
 */
export function mergePrices(overrides: PriceTable | undefined, base: PriceTable = DEFAULT_PRICES): PriceTable {
  if (!overrides) return base;
  const merged: Record<string, ModelPrice> = { ...base };
  for (const [model, price] of Object.entries(overrides)) merged[model] = { ...base[model], ...price };
  return merged;
}

/**
 * The price entry for `model`: the longest table key that equals the id or is a prefix of it
 * followed by `-`, `@` or `:` (so `claude-sonnet-4-5-20250929` matches `claude-sonnet-4-5`,
 * `gpt-4o-mini-2024-07-18` matches `gpt-4o-mini` rather than `gpt-4o`, and `gpt-5.1` matches
 * nothing).
 */
export function findPrice(model: string, table: PriceTable = DEFAULT_PRICES): { key: string; price: ModelPrice } | undefined {
  let best: { key: string; price: ModelPrice } | undefined;
  for (const [key, price] of Object.entries(table)) {
    if (model !== key && !(model.startsWith(key) && "-@:".includes(model.charAt(key.length)))) continue;
    if (!best || key.length > best.key.length) best = { key, price };
  }
  return best;
}

/** The cost of one call. `priced` is false (and `usd` 0) when the model has no price. */
export interface CostEstimate {
  readonly usd: number;
  readonly priced: boolean;
  /** The table key that priced the call. */
  readonly priceKey?: string;
}

/**
 * Cost in USD of `usage` on `model`: uncached input × input price + cache reads × input price ×
 * read multiplier + cache writes × input price × write multiplier + output × output price.
 * Unknown model → `{ usd: 0, priced: false }`.
 */
export function costUsd(model: string, usage: TokenUsage, table: PriceTable = DEFAULT_PRICES): CostEstimate {
  const found = findPrice(model, table);
  if (!found) return { usd: 0, priced: false };
  const { price } = found;
  const input =
    usage.inputTokens +
    usage.cacheReadTokens * (price.cacheReadMultiplier ?? 1) +
    usage.cacheWriteTokens * (price.cacheWriteMultiplier ?? 1);
  const usd = (input * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1_000_000;
  return { usd, priced: true, priceKey: found.key };
}

/** Prices a response: the model the provider reports if it has a price, else the requested one. */
export function responseCost(requestModel: string, responseModel: string, usage: TokenUsage, table: PriceTable): number {
  const byResponse = costUsd(responseModel, usage, table);
  return byResponse.priced ? byResponse.usd : costUsd(requestModel, usage, table).usd;
}
