// Package builder is the build side of Pi Image Studio. It holds no code of
// its own; its rooms are the packages below it:
//
//   - config: load and edit rpi-image-gen YAML configs byte for byte,
//     their includes, merged variables and YAML error positions;
//   - layers: the layer catalog (METABEGIN headers of a tree, extra source
//     dirs and our embedded layers), -Valid rules, resolution into a layer
//     plan, and validation of a config the way rpi-image-gen does it;
//   - runner: locating rpi-image-gen and running its stages, with events,
//     logs, records and cancel;
//   - buildjob: the one config → job constructor the CLI and the GUI share;
//   - image: the native image stage (raid sets, image-rpios);
//   - buildcmd: the build-side subcommands.
//
// Nothing here imports flash, except image's use of the Android sparse
// codec (flash/sparse), the one sanctioned shared leaf.
package builder
