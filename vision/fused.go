package vision

// processTurbo is Process for a JPEG and a TurboDecoder: header, pixel
// limit, then a DCT-scaled decode by libjpeg-turbo straight into this
// Preprocessor's scratch buffer, and the fused resize-crop-normalise from
// there into dst. Steady state it allocates nothing on the Go heap: the
// handle, the scratch buffer, the kernels and the tables are all reused.
func (p *Preprocessor) processTurbo(td *TurboDecoder, data []byte, dst []float32) error {
	if p.tj == nil || p.tj.lib != td.lib {
		h, err := td.lib.newHandle()
		if err != nil {
			return err
		}
		p.tj = h
	}
	h := p.tj
	w, ht, _, cs, err := h.header(data)
	if err != nil {
		return classifyTurbo(err, data)
	}
	if w <= 0 || ht <= 0 {
		return noImage(w, ht, data)
	}
	if err := checkPixels(w, ht, p.maxPixels); err != nil {
		return err
	}
	sf := td.scaleFor(w, ht, p.recipe.minShortSide())
	sw, sh := sf.scaled(w), sf.scaled(ht)
	pf, bpp := tjpfRGB, 3
	cmyk := cs == tjcsCMYK || cs == tjcsYCCK
	if cmyk {
		// TurboJPEG will not convert CMYK to RGB; take the inks and apply
		// Pillow's formula.
		pf, bpp = tjpfCMYK, 4
	}
	buf := grow(&p.full, bpp*sw*sh)
	defer p.trim()
	if err := h.decompress(data, buf, sw, bpp*sw, sh, pf, tjflagLimitScans); fatalTurbo(err, data) {
		return classifyTurbo(err, data)
	}
	if cmyk {
		invertedCMYKToRGB(buf, sw*sh)
	}

	p.images++
	o := JPEGOrientation(data)
	ow, oh := upright(w, ht, o)
	iw, ih := upright(sw, sh, o)
	g := p.plan(ow, oh, iw, ih, sf, o)
	if o == 1 {
		p.resampleNative(&g, buf, 3*sw, 0, 0, dst)
		return nil
	}
	bw, bh := g.x1-g.x0, g.y1-g.y0
	src := grow(&p.src, 3*bw*bh)
	orientWindow(buf, sw, sh, o, g.x0, g.y0, g.x1, g.y1, src)
	p.resampleNative(&g, src, 3*bw, g.x0, g.y0, dst)
	return nil
}

// invertedCMYKToRGB converts n pixels of libjpeg's raw CMYK, stored the
// Adobe way (255 = no ink), to packed RGB in place, by Pillow's cmyk2rgb:
// R = (255-K) - round(C·(255-K)/255). Writing 3 bytes per 4 read keeps the
// in-place pass safe.
func invertedCMYKToRGB(b []byte, n int) {
	for i := range n {
		p := b[4*i : 4*i+4 : 4*i+4]
		nk := uint32(p[3]) // 255 - K
		r := nk - muldiv255(255-uint32(p[0]), nk)
		g := nk - muldiv255(255-uint32(p[1]), nk)
		bl := nk - muldiv255(255-uint32(p[2]), nk)
		o := b[3*i : 3*i+3 : 3*i+3]
		o[0], o[1], o[2] = uint8(r), uint8(g), uint8(bl)
	}
}
