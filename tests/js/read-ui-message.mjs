// Reads a UI message stream from a URL exactly as `useChat` does, and prints
// the outcome as one line of JSON.
//
//   node read-ui-message.mjs URL [SDK]
//
// SDK is the package to load: "ai" (default, the current AI SDK) or "ai-v5"
// (ai@5.0.92, whose strict chunk schemas reject any undocumented key).
//
// `useChat` (@ai-sdk/react) is a React binding over the SDK's AbstractChat
// with a React ChatState; this script binds the same AbstractChat to a plain
// ChatState instead. Everything else is the SDK's own code:
// DefaultChatTransport POSTs the chat to URL, parses the SSE body with
// parseJsonEventStream and validates every chunk against uiMessageChunkSchema;
// processUIMessageStream builds the assistant message and sets the chat's
// status to "ready" or "error".
//
// Output: {"status", "error", "errors", "finish", "message"}.

const [url, sdkName = "ai"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node read-ui-message.mjs URL [ai|ai-v5]");
  process.exit(2);
}

const { AbstractChat, DefaultChatTransport } = await import(sdkName);

class PlainChatState {
  status = "ready";
  error = undefined;
  messages = [];
  pushMessage = (message) => {
    this.messages = this.messages.concat(message);
  };
  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };
  replaceMessage = (index, message) => {
    this.messages = [
      ...this.messages.slice(0, index),
      this.snapshot(message),
      ...this.messages.slice(index + 1),
    ];
  };
  snapshot = (value) => structuredClone(value);
}

class Chat extends AbstractChat {
  constructor(init) {
    const state = new PlainChatState();
    super({ ...init, state });
    this.plainState = state;
  }
}

const errors = [];
let finish = null;
const chat = new Chat({
  transport: new DefaultChatTransport({ api: url }),
  onError: (error) => errors.push(String(error?.message ?? error)),
  onFinish: ({ isAbort, isDisconnect, isError, finishReason }) => {
    finish = { isAbort, isDisconnect, isError, finishReason: finishReason ?? null };
  },
});

await chat.sendMessage({ text: "Hello" });

const messages = chat.plainState.messages;
const last = messages.at(-1);
const error = chat.error;
console.log(
  JSON.stringify({
    status: chat.status,
    error: error ? { name: error.name, message: error.message } : null,
    errors,
    finish,
    message: last?.role === "assistant" ? last : null,
  }),
);
