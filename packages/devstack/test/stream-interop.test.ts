/**
 * The runtime's Stream client (@clawgate/dingtalk) against the fake DingTalk's gateway, both as
 * shipped: ACK after a callback, ping echo, reconnect with a fresh ticket after a SYSTEM
 * disconnect and after a dropped connection, and redelivery when the client does not ACK.
 */
import { DingTalkStreamClient, ROBOT_TOPIC } from "@clawgate/dingtalk";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeDingTalk, type FakeDingTalk } from "../src/fake-dingtalk.ts";

const APP_KEY = "dinginteropkey";
const APP_SECRET = "interop-secret";

let fake: FakeDingTalk | undefined;
let client: DingTalkStreamClient | undefined;
afterEach(async () => {
  await client?.stop();
  await fake?.close();
  client = undefined;
  fake = undefined;
});

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function connect(
  onMessage: ConstructorParameters<typeof DingTalkStreamClient>[0]["onMessage"],
  fakeOptions = {},
) {
  fake = await startFakeDingTalk({
    port: 0,
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    pingIntervalMs: 0,
    ...fakeOptions,
  });
  client = new DingTalkStreamClient({
    clientId: APP_KEY,
    clientSecret: APP_SECRET,
    apiBase: fake.url,
    onMessage,
    backoff: { baseMs: 20, maxMs: 200 },
  });
  let connects = 0;
  client.on("connected", () => connects++);
  await client.start();
  return { fake, client, connects: () => connects };
}

describe("Stream client against the fake DingTalk gateway", () => {
  it("receives a robot message and ACKs it", async () => {
    const received: { topic: string; data: string }[] = [];
    const { fake } = await connect(async (m) => {
      received.push({ topic: m.topic, data: m.data });
      return "ack";
    });
    const { msgId } = await fake.deliver({ conversationId: "cid-interop", text: "hello", via: "stream" });
    const ack = await fake.waitForAck(msgId);
    expect(ack).toMatchObject({ kind: "callback", code: 200, data: { response: null } });
    expect(received).toHaveLength(1);
    expect(received[0]!.topic).toBe(ROBOT_TOPIC);
    expect(JSON.parse(received[0]!.data)).toMatchObject({ msgId, conversationId: "cid-interop" });
  });

  it("echoes SYSTEM pings with the same messageId and data", async () => {
    const { fake } = await connect(async () => "ack");
    const [pingId] = fake.pingStreams();
    const echo = await until(() => fake.acks.find((a) => a.messageId === pingId), "ping echo");
    expect(echo.kind).toBe("ping");
    expect(echo.code).toBe(200);
    expect(echo.data).toMatchObject({ opaque: expect.any(String) });
  });

  it("reconnects with a fresh ticket after a SYSTEM disconnect and after a dropped connection", async () => {
    const { fake, connects } = await connect(async () => "ack");
    expect(connects()).toBe(1);
    fake.disconnectStreams();
    await until(
      () => (connects() >= 2 && fake.streamConnections() === 1 ? true : undefined),
      "reconnect after disconnect",
    );
    fake.dropStreamConnections();
    await until(() => (connects() >= 3 && fake.streamConnections() === 1 ? true : undefined), "reconnect after drop");
    // Still working after both: a message is delivered and ACKed on the new connection.
    const { msgId } = await fake.deliver({ conversationId: "cid-interop", text: "after reconnect", via: "stream" });
    expect((await fake.waitForAck(msgId)).code).toBe(200);
  });

  it("gets the message again when it did not ACK", async () => {
    let calls = 0;
    const { fake } = await connect(
      async () => {
        calls++;
        return calls === 1 ? "no-ack" : "ack"; // e.g. the database was down the first time
      },
      { streamAckTimeoutMs: 200 },
    );
    const { msgId } = await fake.deliver({ conversationId: "cid-interop", text: "retry me", via: "stream" });
    expect((await fake.waitForAck(msgId)).code).toBe(200);
    expect(calls).toBe(2);
  });
});
