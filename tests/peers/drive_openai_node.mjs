// The openai Node SDK's beta realtime client, `OpenAIRealtimeWS` (openai 4.x, `ws` underneath).
//
// Run as `node drive_openai_node.mjs URL AUDIO` from a directory whose node_modules holds
// `openai` and `ws` (run.py installs them there). Prints one `RESULT {json}` line per scenario,
// like the Python drivers (_driver.py), and exits 0.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.cwd(), 'index.js'));
const { OpenAI } = require('openai');
const { OpenAIRealtimeWS } = require('openai/beta/realtime/ws');

const [url, audioPath] = process.argv.slice(2);
const AUDIO = readFileSync(audioPath);
const MODEL = 'gpt-4o-realtime-preview';
const TEXT_REPLY = 'You said: hello peers';
const TOOL_REPLY = 'get_weather returned: {"city": "Paris", "sky": "sunny"}';
// The same JSON text as _driver.weather (Python's json.dumps spacing).
const weather = (city) => `{"city": ${JSON.stringify(city)}, "sky": "sunny"}`;

class Failed extends Error {}
const check = (ok, message) => {
  if (!ok) throw new Failed(message);
};

// One connection: every event is kept; `until` waits for the next one of a type.
async function open() {
  const client = new OpenAI({ apiKey: 'sk-peer-conformance', baseURL: url.replace(/^ws/, 'http').replace(/\/realtime$/, '') });
  const rt = new OpenAIRealtimeWS({ model: MODEL }, client);
  const events = [];
  const waiters = [];
  rt.on('event', (event) => {
    events.push(event);
    for (const waiter of waiters.splice(0)) waiter();
  });
  rt.on('error', (error) => {
    events.push({ type: 'error', error });
    for (const waiter of waiters.splice(0)) waiter();
  });
  let seen = 0;
  const until = async (type) => {
    for (;;) {
      while (seen < events.length) {
        const event = events[seen++];
        check(event.type !== 'error', `server error: ${JSON.stringify(event.error?.error ?? event.error?.message ?? event.error)}`);
        if (event.type === type) return events.slice(0, seen);
      }
      await new Promise((resolve) => waiters.push(resolve));
    }
  };
  await new Promise((resolve, reject) => {
    rt.socket.once('open', resolve);
    rt.socket.once('error', reject);
  });
  await until('session.created');
  return { rt, until, close: () => rt.close() };
}

const userText = (text) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });
const said = (events) => events.filter((e) => e.type === 'response.text.delta').map((e) => e.delta).join('');

async function textTurn() {
  const { rt, until, close } = await open();
  try {
    rt.send({ type: 'session.update', session: { modalities: ['text'], turn_detection: null } });
    await until('session.updated');
    rt.send({ type: 'conversation.item.create', item: userText('hello peers') });
    rt.send({ type: 'response.create' });
    const events = await until('response.done');
    check(said(events) === TEXT_REPLY, `reply ${JSON.stringify(said(events))}`);
    check(events.at(-1).response.status === 'completed', 'response not completed');
    return `text ${JSON.stringify(said(events))}`;
  } finally {
    close();
  }
}

async function audioTurn() {
  const { rt, until, close } = await open();
  try {
    rt.send({ type: 'session.update', session: { input_audio_transcription: { model: 'whisper-1' } } });
    await until('session.updated');
    for (let start = 0; start < AUDIO.length; start += 4800) {
      rt.send({ type: 'input_audio_buffer.append', audio: AUDIO.subarray(start, start + 4800).toString('base64') });
    }
    const events = await until('response.done');
    const audio = events.filter((e) => e.type === 'response.audio.delta').reduce((n, e) => n + Buffer.from(e.delta, 'base64').length, 0);
    check(audio > 0, 'no reply audio');
    check(events.at(-1).response.status === 'completed', 'response not completed');
    // The transcript may come before the reply ends or after it (server-behaviour.md 5.2).
    const isTranscript = (e) => e.type === 'conversation.item.input_audio_transcription.completed';
    const heard = events.find(isTranscript) ?? (await until('conversation.item.input_audio_transcription.completed')).at(-1);
    return `${Math.round(audio / 48)} ms of reply audio; user said ${JSON.stringify(heard.transcript)}`;
  } finally {
    close();
  }
}

async function toolRoundTrip() {
  const { rt, until, close } = await open();
  try {
    const tool = {
      type: 'function',
      name: 'get_weather',
      description: 'The weather in a city.',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    };
    rt.send({ type: 'session.update', session: { modalities: ['text'], turn_detection: null, tools: [tool] } });
    await until('session.updated');
    rt.send({ type: 'conversation.item.create', item: userText('What is the weather? get_weather city=Paris') });
    rt.send({ type: 'response.create' });
    const first = await until('response.done');
    const call = first.at(-1).response.output.find((item) => item.type === 'function_call');
    check(call?.name === 'get_weather', `output ${JSON.stringify(first.at(-1).response.output)}`);
    const output = weather(JSON.parse(call.arguments).city);
    rt.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: call.call_id, output } });
    rt.send({ type: 'response.create' });
    const events = (await until('response.done')).slice(first.length);
    check(said(events) === TOOL_REPLY, `follow-up ${JSON.stringify(said(events))}`);
    return `get_weather(${call.arguments}) answered: ${JSON.stringify(said(events))}`;
  } finally {
    close();
  }
}

for (const [name, scenario] of [['text', textTurn], ['audio', audioTurn], ['tool', toolRoundTrip]]) {
  let result;
  try {
    const detail = await Promise.race([
      scenario(),
      new Promise((_, reject) => setTimeout(() => reject(new Failed('no answer within 30 s')), 30000)),
    ]);
    result = { scenario: name, ok: true, detail };
  } catch (error) {
    result = { scenario: name, ok: false, detail: `${error.constructor.name}: ${error.message}` };
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
}
process.exit(0);
