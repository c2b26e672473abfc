// The live stream (GET .../stats/live, Server-Sent Events) read with fetch(), which, unlike
// EventSource, can send the key in the Authorization header; polling when there is no stream.

export const POLL_MS = 5000;
const RETRY_MS = 3000;
const NO_STREAM = new Set([404, 405, 501, 503]);

// Calls onEvent(type, data) per event until `signal` aborts. When the API has no stream (404,
// 503, `event: unavailable`, not text/event-stream) it calls onMode("polling") and then
// onPoll() every POLL_MS; a dropped stream is resumed with Last-Event-ID.
export async function followLive({ url, headers, onEvent, onPoll, onMode, signal }) {
  const state = { lastId: null, retryMs: RETRY_MS };
  while (!signal.aborted) {
    let outcome;
    try {
      outcome = await readStream(url, headers, state, onEvent, onMode, signal);
    } catch (error) {
      if (signal.aborted) return;
      outcome = state.lastId === null ? "unavailable" : "dropped";
    }
    if (outcome === "unavailable") {
      onMode("polling");
      await poll(onPoll, signal);
      return;
    }
    onMode("reconnecting");
    await sleep(state.retryMs, signal);
  }
}

async function readStream(url, headers, state, onEvent, onMode, signal) {
  const asked = { ...headers, Accept: "text/event-stream" };
  if (state.lastId !== null) asked["Last-Event-ID"] = state.lastId;
  const response = await fetch(url, { headers: asked, signal, cache: "no-store" });
  const type = response.headers.get("Content-Type") || "";
  if (NO_STREAM.has(response.status) || !response.ok || !type.startsWith("text/event-stream")) {
    await response.body?.cancel();
    return "unavailable";
  }
  onMode("stream");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new EventParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return "dropped";
    for (const event of parser.push(value)) {
      if (event.id !== null) state.lastId = event.id;
      if (event.retry !== null) state.retryMs = event.retry;
      if (event.type === "unavailable") {
        await reader.cancel();
        return "unavailable";
      }
      if (event.data !== null) onEvent(event.type, JSON.parse(event.data));
    }
  }
}

// The text/event-stream format: fields per line, an event per blank line, `:` comments.
export class EventParser {
  constructor() {
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.event = { type: "message", data: null, id: null, retry: null };
  }

  *push(text) {
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop();
    for (const line of lines) {
      if (line === "") {
        if (this.event.data !== null || this.event.type === "unavailable") yield this.event;
        this.reset();
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event.type = value;
      else if (field === "data") this.event.data = this.event.data === null ? value : `${this.event.data}\n${value}`;
      else if (field === "id") this.event.id = value;
      else if (field === "retry" && /^\d+$/.test(value)) this.event.retry = Number(value);
    }
  }
}

async function poll(onPoll, signal) {
  while (!signal.aborted) {
    try {
      await onPoll();
    } catch (error) {
      // The page shows the error; polling goes on.
    }
    await sleep(POLL_MS, signal);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
