fn main() {
    gst_plugin_version_helper::info();

    // dlib (Debian libdlib-dev), only with the `dlib` feature: an alternative face analysis.
    println!("cargo:rerun-if-changed=src/dlib/shim.cpp");
    if std::env::var_os("CARGO_FEATURE_DLIB").is_none() {
        return;
    }
    let dlib = match pkg_config::Config::new()
        .atleast_version("19.0")
        .probe("dlib-1")
    {
        Ok(l) => l,
        Err(e) => panic!(
            "dlib not found through pkg-config (on Debian: apt-get install libdlib-dev libopenblas-dev liblapack-dev): {e}"
        ),
    };
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("src/dlib/shim.cpp")
        .flag_if_supported("-std=c++14")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-misleading-indentation")
        // dlib's detector and predictor are header templates compiled here: always optimise them,
        // also in debug builds.
        .opt_level(2)
        .debug(false)
        .warnings(false);
    for p in &dlib.include_paths {
        build.include(p);
    }
    for (k, v) in &dlib.defines {
        build.define(k, v.as_deref());
    }
    build.compile("talkingface_dlib_shim");
}
