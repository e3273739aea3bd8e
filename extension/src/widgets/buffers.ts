// Binary buffers of comm messages travel as base64 strings (docs/protocol.md):
// VS Code's renderer messaging and LSP both carry JSON. Pure (atob/btoa exist
// in the webview and in node), so it is unit-tested.

/** Bytes per String.fromCharCode call: spreading more arguments overflows the stack. */
const CHUNK = 0x8000;

export function bufferToBase64(buffer: ArrayBuffer | ArrayBufferView): string {
  const bytes = ArrayBuffer.isView(buffer)
    ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : new Uint8Array(buffer);
  let binary = "";
  for (let start = 0; start < bytes.length; start += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(start, start + CHUNK));
  }
  return btoa(binary);
}

/** A DataView, since that is what the widget models' `put_buffers` expects. */
export function base64ToDataView(text: string): DataView {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return new DataView(bytes.buffer);
}
