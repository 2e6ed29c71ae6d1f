/*
 * gen_cmyk.c writes the Adobe CMYK and YCCK JPEG fixtures used by
 * decode_test.go; Go's encoder cannot write either. Regenerate with:
 *
 *   cc -O2 -o /tmp/gen_cmyk gen_cmyk.c -ljpeg && /tmp/gen_cmyk
 *
 * Each image is 32x16: the left half is pure red (ink C=0 M=255 Y=255 K=0),
 * the right half is ink C=200 M=50 Y=0 K=60. Like Photoshop and Pillow, the
 * samples are stored inverted (255 = no ink), as the Adobe APP14 marker
 * implies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>

static void write(const char *path, J_COLOR_SPACE jcs) {
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	unsigned char row[32 * 4];
	FILE *f = fopen(path, "wb");
	if (!f) { perror(path); exit(1); }
	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, f);
	c.image_width = 32;
	c.image_height = 16;
	c.input_components = 4;
	c.in_color_space = JCS_CMYK;
	jpeg_set_defaults(&c);
	jpeg_set_colorspace(&c, jcs);
	jpeg_set_quality(&c, 100, TRUE);
	jpeg_start_compress(&c, TRUE);
	for (int x = 0; x < 32; x++) {
		static const unsigned char a[4] = {0, 255, 255, 0}, b[4] = {200, 50, 0, 60};
		const unsigned char *ink = x < 16 ? a : b;
		for (int k = 0; k < 4; k++) row[4 * x + k] = 255 - ink[k];
	}
	while (c.next_scanline < c.image_height) {
		JSAMPROW r = row;
		jpeg_write_scanlines(&c, &r, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	fclose(f);
}

int main(void) {
	write("cmyk.jpg", JCS_CMYK);
	write("ycck.jpg", JCS_YCCK);
	return 0;
}
