/*
 * Cross-checks the simulated UVC camera with libuvc 0.0.6 (Debian libuvc-dev), an independent
 * UVC host implementation: uvc_find_device, uvc_open, uvc_get_stream_ctrl_format_size,
 * uvc_start_streaming with a callback that checks every frame's size and test pattern.
 *
 * It must run where the umockdev testbed with the simulated camera is. In the test suite it
 * is the C target CLibUVCCheck (built with -DLIBUVC_CHECK_LIBRARY), called by
 * drivers/uvc-camera/Tests/LibUVCCrossCheckTests.swift in the process holding the testbed.
 * Built on its own (cc libuvc_check.c $(pkg-config --cflags --libs libuvc) -lpthread) it is a
 * program to run as a child of that process (umockdev children inherit the sandbox):
 *
 *     libuvc_check <gray8|gray16|yuyv> <width> <height> <fps> <frames>
 */
#include "libuvc_check.h"

#include <libuvc/libuvc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tally {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    enum uvc_frame_format format;
    int width, height, wanted;
    struct libuvc_check_result *result;
};

static void note(struct libuvc_check_result *result, const char *format, ...) {
    if (result->problem[0]) return; /* the first problem is the one to read */
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(result->problem, sizeof result->problem, format, arguments);
    va_end(arguments);
}

/* Whether `data` is frame `n` of the simulator's pattern (SimulatedUVCFormat): row y, byte or
 * 16-bit pixel i is (i + y + n), modulo 256 or 65536. */
static int pattern_ok(const struct tally *t, const uint8_t *data, unsigned n) {
    for (int y = 0; y < t->height; y++) {
        if (t->format == UVC_FRAME_FORMAT_GRAY16) {
            const uint8_t *row = data + (size_t)y * t->width * 2;
            for (int i = 0; i < t->width; i++) {
                unsigned value = row[2 * i] | (unsigned)row[2 * i + 1] << 8;
                if (value != (((unsigned)(i + y) + n) & 0xffff)) return 0;
            }
        } else {
            int row_bytes = t->format == UVC_FRAME_FORMAT_YUYV ? t->width * 2 : t->width;
            const uint8_t *row = data + (size_t)y * row_bytes;
            for (int i = 0; i < row_bytes; i++)
                if (row[i] != (uint8_t)((unsigned)(i + y) + n)) return 0;
        }
    }
    return 1;
}

/* libuvc's callback thread. libuvc hands over the latest frame it assembled: when frames come
 * faster than this callback checks them, it skips some, so a frame's number is taken from its
 * sequence number, not from a count. */
static void on_frame(uvc_frame_t *frame, void *context) {
    struct tally *t = context;
    struct libuvc_check_result *result = t->result;
    size_t bytes_per_pixel = t->format == UVC_FRAME_FORMAT_GRAY8 ? 1 : 2;
    size_t expected = (size_t)t->width * t->height * bytes_per_pixel;
    pthread_mutex_lock(&t->lock);
    if (result->frames < t->wanted) {
        int number = result->frames;
        if (frame->data_bytes != expected || (int)frame->width != t->width || (int)frame->height != t->height) {
            result->bad_frames++;
            note(result, "frame %d (sequence %u): %zu bytes %ux%u, expected %zu bytes %dx%d", number, frame->sequence,
                 frame->data_bytes, frame->width, frame->height, expected, t->width, t->height);
        } else if (number > 0 && frame->sequence <= result->last_sequence) {
            result->bad_frames++;
            note(result, "frame %d: sequence %u after %u", number, frame->sequence, result->last_sequence);
        } else if (frame->sequence == 0 || !pattern_ok(t, frame->data, frame->sequence - 1)) {
            result->bad_frames++;
            note(result, "frame %d (sequence %u): pixels differ from the pattern of frame %u", number, frame->sequence,
                 frame->sequence - 1);
        }
        if (number == 0) result->first_sequence = frame->sequence;
        result->last_sequence = frame->sequence;
        result->frames++;
        printf("frame %d: %zu bytes, sequence %u\n", number, frame->data_bytes, frame->sequence);
        pthread_cond_broadcast(&t->changed);
    }
    pthread_mutex_unlock(&t->lock);
}

static int fail(struct libuvc_check_result *result, const char *what, uvc_error_t error) {
    note(result, "%s: %s", what, uvc_strerror(error));
    printf("FAIL %s\n", result->problem);
    return 1;
}

int libuvc_check_stream(int vendor_id, int product_id, const char *format, int width, int height, int fps, int frames,
                        int timeout_seconds, struct libuvc_check_result *result) {
    memset(result, 0, sizeof *result);
    struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER, .result = result};
    if (strcmp(format, "gray8") == 0) t.format = UVC_FRAME_FORMAT_GRAY8;
    else if (strcmp(format, "gray16") == 0) t.format = UVC_FRAME_FORMAT_GRAY16;
    else if (strcmp(format, "yuyv") == 0) t.format = UVC_FRAME_FORMAT_YUYV;
    else {
        note(result, "unknown format %s (gray8, gray16, yuyv)", format);
        return 2;
    }
    t.width = width;
    t.height = height;
    t.wanted = frames;

    uvc_context_t *ctx;
    uvc_device_t *dev;
    uvc_device_handle_t *devh;
    uvc_stream_ctrl_t ctrl;
    uvc_error_t res = uvc_init(&ctx, NULL);
    if (res < 0) return fail(result, "uvc_init", res);
    if ((res = uvc_find_device(ctx, &dev, vendor_id, product_id, NULL)) < 0) {
        uvc_exit(ctx);
        return fail(result, "uvc_find_device", res);
    }
    if ((res = uvc_open(dev, &devh)) < 0) {
        uvc_unref_device(dev);
        uvc_exit(ctx);
        return fail(result, "uvc_open", res);
    }
    int status = 0;
    if ((res = uvc_get_stream_ctrl_format_size(devh, &ctrl, t.format, width, height, fps)) < 0) {
        status = fail(result, "uvc_get_stream_ctrl_format_size", res);
    } else {
        result->format_index = ctrl.bFormatIndex;
        result->frame_index = ctrl.bFrameIndex;
        result->frame_interval = ctrl.dwFrameInterval;
        result->frame_size = ctrl.dwMaxVideoFrameSize;
        result->payload_size = ctrl.dwMaxPayloadTransferSize;
        printf("negotiated: format %u frame %u interval %u, frame size %u, payload size %u\n", ctrl.bFormatIndex,
               ctrl.bFrameIndex, ctrl.dwFrameInterval, ctrl.dwMaxVideoFrameSize, ctrl.dwMaxPayloadTransferSize);
        if ((res = uvc_start_streaming(devh, &ctrl, on_frame, &t, 0)) < 0) {
            status = fail(result, "uvc_start_streaming", res);
        } else {
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += timeout_seconds;
            pthread_mutex_lock(&t.lock);
            int timed_out = 0;
            while (result->frames < frames && !timed_out)
                timed_out = pthread_cond_timedwait(&t.changed, &t.lock, &deadline) != 0;
            if (result->frames < frames)
                note(result, "only %d of %d frames within %d s", result->frames, frames, timeout_seconds);
            else if (result->bad_frames)
                note(result, "%d bad frames", result->bad_frames);
            status = result->problem[0] != 0;
            pthread_mutex_unlock(&t.lock);
            uvc_stop_streaming(devh);
        }
    }
    uvc_close(devh);
    uvc_unref_device(dev);
    uvc_exit(ctx);
    if (status) printf("FAIL %s\n", result->problem);
    else printf("OK %d frames\n", result->frames);
    return status;
}

#ifndef LIBUVC_CHECK_LIBRARY
int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s <gray8|gray16|yuyv> <width> <height> <fps> <frames>\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct libuvc_check_result result;
    return libuvc_check_stream(0, 0, argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), 20, &result);
}
#endif
