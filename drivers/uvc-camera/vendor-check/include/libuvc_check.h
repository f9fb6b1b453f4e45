#ifndef LIBUVC_CHECK_H
#define LIBUVC_CHECK_H

/* Cross-checks the simulated UVC camera with libuvc, an independent UVC host implementation
 * (libuvc_check.c). Plain C types only: libuvc's own header stays out of Swift. */

/* What one run saw. */
struct libuvc_check_result {
    /* What uvc_get_stream_ctrl_format_size negotiated with the camera. */
    unsigned format_index;
    unsigned frame_index;
    unsigned frame_interval;
    unsigned frame_size;
    unsigned payload_size;
    /* Frames the callback checked, and how many of them were wrong (size, shape, pixels, or a
     * sequence number not above the previous one). */
    int frames;
    int bad_frames;
    /* libuvc's sequence numbers of the first and last frame checked (1: the camera's frame 0). */
    unsigned first_sequence;
    unsigned last_sequence;
    /* The step that failed or the first bad frame, in words; empty when all went well. */
    char problem[256];
};

/* Finds the UVC camera with `vendor_id`:`product_id`, opens it, negotiates `format` ("gray8",
 * "gray16" or "yuyv") at `width` x `height` and `fps`, streams until `frames` frames arrived
 * (at most `timeout_seconds`), stops and closes. Every frame must be width x height, of
 * exactly width x height x bytes per pixel bytes, and carry the simulator's test pattern of
 * its frame number (libuvc's sequence number - 1). Prints a line per frame to stdout.
 * Returns 0 when all went well, 1 otherwise (`result->problem` says why), 2 for bad arguments. */
int libuvc_check_stream(int vendor_id, int product_id, const char *format, int width, int height, int fps, int frames,
                        int timeout_seconds, struct libuvc_check_result *result);

#endif
