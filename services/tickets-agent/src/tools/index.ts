export * from "./notify.ts";
export * from "./tickets.ts";
