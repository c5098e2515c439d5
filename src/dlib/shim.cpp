// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A small C interface over dlib's HOG frontal face detector and its 68-point shape predictor,
// for the Rust side in src/dlib/mod.rs. Every entry point catches every exception and returns it
// as an error string: nothing unwinds across the FFI boundary.

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <new>
#include <string>
#include <vector>

namespace {

// dlib's shape_predictor, read from the same serialized form, but giving sub-pixel points
// (dlib::shape_predictor rounds its output to integer pixels, which is visible jitter on small
// faces). The cascade below is the one of dlib::shape_predictor::operator() in dlib 19.24.
struct SubpixelPredictor {
    dlib::matrix<float, 0, 1> initial_shape;
    std::vector<std::vector<dlib::impl::regression_tree> > forests;
    std::vector<std::vector<unsigned long> > anchor_idx;
    std::vector<std::vector<dlib::vector<float, 2> > > deltas;

    unsigned long num_parts() const { return initial_shape.size() / 2; }

    void load(std::istream &in) {
        int version = 0;
        dlib::deserialize(version, in);
        if (version != 1)
            throw dlib::serialization_error("unexpected shape_predictor version " +
                                            std::to_string(version));
        dlib::deserialize(initial_shape, in);
        dlib::deserialize(forests, in);
        dlib::deserialize(anchor_idx, in);
        dlib::deserialize(deltas, in);
        if (forests.size() != anchor_idx.size() || forests.size() != deltas.size() ||
            initial_shape.size() % 2 != 0)
            throw dlib::serialization_error("inconsistent shape_predictor data");
    }

    template <typename image_type>
    void predict(const image_type &img, const dlib::rectangle &rect, float *out) const {
        using namespace dlib::impl;
        dlib::matrix<float, 0, 1> current_shape = initial_shape;
        std::vector<float> feature_pixel_values;
        for (unsigned long iter = 0; iter < forests.size(); ++iter) {
            extract_feature_pixel_values(img, rect, current_shape, initial_shape,
                                         anchor_idx[iter], deltas[iter], feature_pixel_values);
            unsigned long leaf_idx;
            for (unsigned long i = 0; i < forests[iter].size(); ++i)
                current_shape += forests[iter][i](feature_pixel_values, leaf_idx);
        }
        const dlib::point_transform_affine tform_to_img = unnormalizing_tform(rect);
        for (unsigned long i = 0; i < num_parts(); ++i) {
            dlib::dpoint p = tform_to_img(location(current_shape, i));
            out[i * 2 + 0] = (float)p.x();
            out[i * 2 + 1] = (float)p.y();
        }
    }
};

struct Landmarker {
    dlib::frontal_face_detector detector;
    SubpixelPredictor predictor;
    dlib::array2d<unsigned char> img;
    dlib::array2d<unsigned char> up;
};

void set_err(char *err, size_t len, const char *msg) {
    if (err == nullptr || len == 0) return;
    std::snprintf(err, len, "%s", msg);
}

void copy_gray(dlib::array2d<unsigned char> &dst, const unsigned char *src, size_t w, size_t h,
               size_t stride) {
    if ((size_t)dst.nc() != w || (size_t)dst.nr() != h) dst.set_size((long)h, (long)w);
    for (size_t y = 0; y < h; y++) {
        std::memcpy(&dst[(long)y][0], src + y * stride, w);
    }
}

}  // namespace

extern "C" {

// Loads the shape predictor from `path`; returns null and fills `err` on failure.
void *tf_dlib_new(const char *path, char *err, size_t errlen) {
    try {
        Landmarker *lm = new Landmarker();
        try {
            lm->detector = dlib::get_frontal_face_detector();
            std::ifstream in(path, std::ios::binary);
            if (!in) {
                delete lm;
                set_err(err, errlen, "cannot open the file");
                return nullptr;
            }
            lm->predictor.load(in);
            if (lm->predictor.num_parts() != 68) {
                std::string m = "the shape predictor has " +
                                std::to_string(lm->predictor.num_parts()) +
                                " parts, not the 68 of iBUG 300-W";
                delete lm;
                set_err(err, errlen, m.c_str());
                return nullptr;
            }
        } catch (...) {
            delete lm;
            throw;
        }
        return lm;
    } catch (const std::exception &e) {
        std::string m = std::string("not a dlib shape predictor: ") + e.what();
        set_err(err, errlen, m.c_str());
    } catch (...) {
        set_err(err, errlen, "not a dlib shape predictor (unknown C++ exception)");
    }
    return nullptr;
}

void tf_dlib_free(void *p) {
    try {
        delete static_cast<Landmarker *>(p);
    } catch (...) {
    }
}

// Runs the HOG detector. Writes up to `max` faces as (left, top, right, bottom, score) into
// `out` (5 floats each), the best first, and their total count into `*n`. Returns 0 on success.
int tf_dlib_detect(void *p, const unsigned char *gray, size_t w, size_t h, size_t stride,
                   unsigned upsample, float *out, size_t max, size_t *n, char *err,
                   size_t errlen) {
    try {
        Landmarker *lm = static_cast<Landmarker *>(p);
        copy_gray(lm->img, gray, w, h, stride);
        std::vector<dlib::rect_detection> dets;
        double scale = 1.0;
        if (upsample == 0) {
            lm->detector(lm->img, dets, 0.0);
        } else {
            dlib::pyramid_down<2> pyr;
            dlib::assign_image(lm->up, lm->img);
            for (unsigned i = 0; i < upsample; i++) {
                dlib::pyramid_up(lm->up, pyr);
                scale *= 2.0;
            }
            lm->detector(lm->up, dets, 0.0);
        }
        std::sort(dets.begin(), dets.end(),
                  [](const dlib::rect_detection &a, const dlib::rect_detection &b) {
                      return a.detection_confidence > b.detection_confidence;
                  });
        *n = dets.size();
        for (size_t i = 0; i < dets.size() && i < max; i++) {
            const dlib::rectangle &r = dets[i].rect;
            out[i * 5 + 0] = (float)(r.left() / scale);
            out[i * 5 + 1] = (float)(r.top() / scale);
            out[i * 5 + 2] = (float)((r.right() + 1) / scale);
            out[i * 5 + 3] = (float)((r.bottom() + 1) / scale);
            out[i * 5 + 4] = (float)dets[i].detection_confidence;
        }
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown C++ exception in the face detector");
    }
    return -1;
}

// Runs the shape predictor in the box (left, top, right, bottom). Writes 68 (x, y) pairs into
// `out` (136 floats). Returns 0 on success.
int tf_dlib_landmarks(void *p, const unsigned char *gray, size_t w, size_t h, size_t stride,
                      float left, float top, float right, float bottom, float *out, char *err,
                      size_t errlen) {
    try {
        Landmarker *lm = static_cast<Landmarker *>(p);
        copy_gray(lm->img, gray, w, h, stride);
        dlib::rectangle r((long)std::lround(left), (long)std::lround(top),
                          (long)std::lround(right) - 1, (long)std::lround(bottom) - 1);
        if (r.width() < 2 || r.height() < 2) {
            set_err(err, errlen, "the face box is empty");
            return -1;
        }
        lm->predictor.predict(lm->img, r, out);
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown C++ exception in the shape predictor");
    }
    return -1;
}

}  // extern "C"
