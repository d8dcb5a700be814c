/**
 * Reads a streamed answer until `chars` characters of text came, then leaves the loop: the client stops the stream (its
 * request aborted), as a user pressing "stop".
 */
export async function stopAfter(
  stream: AsyncIterable<{ choices: { delta: { content?: string | null } }[] }>,
  chars = 3,
): Promise<void> {
  let delivered = 0;
  for await (const chunk of stream) {
    delivered += chunk.choices[0]?.delta.content?.length ?? 0;
    if (delivered >= chars) break;
  }
}
