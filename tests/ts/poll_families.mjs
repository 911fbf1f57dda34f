// The official TypeScript SDK (@camb-ai/sdk) against mockcamb, unchanged but for baseUrl:
// create a story, a dub, a tts and a transcription task, poll each to SUCCESS (its retries
// ride through the scenario's 503 and 429), and print what it saw as one JSON line.
import { CambClient } from "@camb-ai/sdk";

const [baseUrl, apiKey] = process.argv.slice(2);
const client = new CambClient({ apiKey, baseUrl, timeoutInSeconds: 20 });
const media = () => new Blob([new Uint8Array([82, 73, 70, 70])], { type: "audio/wav" });

const families = {
  story: {
    create: () => client.story.createStory({ file: media(), source_language: 1 }),
    status: (task_id) => client.story.getStoryStatus({ task_id }),
  },
  dub: {
    create: () =>
      client.dub.endToEndDubbing({ video_url: "https://x/v.mp4", source_language: 1, target_languages: [54] }),
    status: (task_id) => client.dub.getEndToEndDubbingStatus({ task_id }),
  },
  tts: {
    create: () => client.textToSpeech.createTts({ text: "hi", voice_id: 1, language: 1 }),
    status: (task_id) => client.textToSpeech.getTtsResult({ task_id }),
  },
  transcription: {
    create: () => client.transcription.createTranscription({ language: 1, media_file: media() }),
    status: (task_id) => client.transcription.getTranscriptionTaskStatus({ task_id }),
  },
};

async function run(name, f) {
  const created = await f.create();
  const statuses = [];
  for (let i = 0; i < 5; i++) {
    const status = await f.status(created.task_id);
    statuses.push(status.status);
    if (status.status === "SUCCESS") return { name, task_id: created.task_id, statuses, run_id: status.run_id };
  }
  return { name, task_id: created.task_id, statuses, run_id: null };
}

try {
  const results = await Promise.all(Object.entries(families).map(([n, f]) => run(n, f)));
  console.log(JSON.stringify({ ok: true, results }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err), status: err?.statusCode ?? null }));
  process.exitCode = 1;
}
