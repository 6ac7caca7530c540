// Pictures picked by the user, made small enough for one WebSocket frame (the platform closes
// sockets on frames over 1 MiB) before they are sent as a `data:image/...` URL.

const MAX_SIDE = 1024;
const MAX_DATA_URL = 700_000;

function readAsDataUrl(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('cannot read the file'));
    reader.readAsDataURL(file);
  });
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error('that file is not an image this browser can show'));
    image.src = url;
  });
}

/** The picture as a data URL: as it is when small, else scaled down and re-encoded as JPEG. */
export async function imageToDataUrl(file: File): Promise<string> {
  if (!file.type.startsWith('image/')) {
    throw new Error('Pick an image file.');
  }
  const original = await readAsDataUrl(file);
  const image = await loadImage(original);
  const largest = Math.max(image.naturalWidth, image.naturalHeight);
  if (original.length <= MAX_DATA_URL && largest <= MAX_SIDE) {
    return original;
  }
  const scale = Math.min(1, MAX_SIDE / largest);
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
  canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
  canvas.getContext('2d')!.drawImage(image, 0, 0, canvas.width, canvas.height);
  for (const quality of [0.85, 0.7, 0.5, 0.35]) {
    const url = canvas.toDataURL('image/jpeg', quality);
    if (url.length <= MAX_DATA_URL) {
      return url;
    }
  }
  throw new Error('That image is too large to send.');
}
