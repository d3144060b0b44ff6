// replay.ts — rrweb's Replayer as every Footage view of a recorded page makes it (the player,
// the live view): a stranger's page, so its frame is checked and made inert before it draws,
// canvas pictures and unrecorded frames are shown from outside the sandbox, and no canvas is
// replayed by script. The events must have been neutralised (inert.ts) first.

import { Replayer } from 'rrweb';
import type { eventWithTime } from 'rrweb';
import { canvasPictures } from './canvasreplay';
import { unrecordedFrames } from './unrecorded';
import { guardFrame } from './inert';

type ReplayerOptions = NonNullable<ConstructorParameters<typeof Replayer>[1]>;

export function strangerReplayer(events: unknown[], options: ReplayerOptions): Replayer {
  const replayer = new Replayer(events as eventWithTime[], {
    mouseTail: { duration: 600, lineCap: 'round', lineWidth: 2, strokeStyle: 'rgba(79, 70, 229, 0.3)' },
    UNSAFE_replayCanvas: false,
    plugins: [canvasPictures(), unrecordedFrames()],
    showWarning: false,
    ...options,
  });
  try {
    guardFrame(replayer.iframe); // no script, no input
  } catch (error) {
    replayer.destroy(); // before it draws the first page (a timer away)
    throw error;
  }
  return replayer;
}
